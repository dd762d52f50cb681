import { join } from 'node:path';
import { writeWordsFile } from '@tributary/simulators';
import type { RunSummary } from '@tributary/shared';
import { check, fileSize, forEachJsonLine } from './util.js';
import type { PreparedInput, ExampleApp, ScenarioOptions, VerifyResult } from './types.js';

const VOCABULARY = 5_000;
const SEED = 7;

export const wordcount: ExampleApp = {
  name: 'wordcount',
  app: 'examples/wordcount.ts',
  description: 'lines source -> flatMap(split on whitespace) -> keyBy(word) -> count -> map -> JSON-lines sink',
  async prepare(dir: string, options: ScenarioOptions): Promise<PreparedInput> {
    const words = options.records ?? (options.quick ? 200_000 : 2_000_000);
    const inputPath = join(dir, 'words.txt');
    await writeWordsFile(inputPath, { words, vocabulary: VOCABULARY, seed: SEED });
    return {
      records: words,
      unit: 'words',
      inputPath,
      inputBytes: await fileSize(inputPath),
      generator: { words, vocabulary: VOCABULARY, wordsPerLine: 12, seed: SEED },
      params: (output) => ({ input: inputPath, output }),
      verify: (output, summary) => verifyWordcount(output, words, summary),
    };
  },
};

async function verifyWordcount(output: string, words: number, summary?: RunSummary): Promise<VerifyResult> {
  let total = 0;
  const seen = new Set<string>();
  const outputLines = await forEachJsonLine<{ word: string; count: number }>(output, (r) => {
    check(typeof r.word === 'string' && r.word.length > 0 && Number.isSafeInteger(r.count) && r.count > 0, `bad wordcount row ${JSON.stringify(r)}`);
    check(!seen.has(r.word), `word ${JSON.stringify(r.word)} appears twice in ${output}`);
    seen.add(r.word);
    total += r.count;
  });
  check(outputLines > 0, `wordcount wrote no output to ${output}`);
  check(outputLines <= VOCABULARY, `wordcount wrote ${outputLines} distinct words, vocabulary is ${VOCABULARY}`);
  check(total === words, `wordcount counted ${total} words in total, the input has ${words}`);
  // The whole app is one fused chain: processor 0 is the source task, its `in` = lines read.
  const inputLines = summary?.processors[0]?.in;
  if (summary) {
    check(summary.rejected === 0, `wordcount: ${summary.rejected} input records rejected`);
    check((inputLines ?? 0) > 0, 'wordcount: the source read no lines');
  }
  return { outputLines, inputLines, details: { distinctWords: outputLines, totalCount: total } };
}
