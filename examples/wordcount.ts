/**
 * Word count over a text file: split on whitespace (no case folding, empty strings dropped),
 * count per word over the whole input, and write {"word", "count"} per distinct word at the end.
 *
 *   npx tributary run examples/wordcount.ts --param input=words.txt --param output=counts.jsonl
 */
import { jsonLinesSink, linesSource, pipeline, type Params } from 'tributary';

export default (params: Params) => {
  const app = pipeline('wordcount');
  app
    .source(linesSource(params.string('input')))
    .flatMap((line) => line.split(/\s+/).filter((word) => word.length > 0))
    .keyBy((word) => word)
    .count()
    .map((r) => ({ word: r.key, count: r.value }))
    .sink(jsonLinesSink(params.string('output')));
  return app;
};
