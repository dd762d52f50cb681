import { readFile } from 'node:fs/promises';
import { plantKey, type PlantWindow } from './reference.js';

export interface Comparison {
  /** Windows in the reference: what is compared. */
  compared: number;
  /** Result lines in the output file, and distinct windows among them. */
  outputLines: number;
  distinct: number;
  /** In the reference, not in the output. */
  lost: number;
  /** Windows emitted more than once, and the surplus lines. */
  duplicated: number;
  extraLines: number;
  /** Same window, different values (any of its emissions). */
  wrong: number;
  /** In the output, not in the reference. */
  unexpected: number;
  /** Lines of the output that are not a complete JSON result (a torn write). */
  malformed: number;
  /** Records in the late-data output, and in the reference's. */
  late: number;
  referenceLate: number;
  /** A few examples of each kind of difference, for the report. */
  examples: { lost: string[]; duplicated: string[]; wrong: string[]; unexpected: string[]; malformed: string[] };
}

/** Lines of a JSON-lines file; a missing file is empty. */
export async function readLines(path: string): Promise<string[]> {
  const text = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return '';
    throw err;
  });
  return text.split('\n').filter((l) => l.length > 0);
}

function sameValues(a: PlantWindow, b: PlantWindow): boolean {
  const close = (x: number, y: number) => x === y || Math.abs(x - y) <= 1e-9 * Math.max(1, Math.abs(x), Math.abs(y));
  return a.windowEnd === b.windowEnd && a.count === b.count && a.min === b.min && a.max === b.max && close(a.avg, b.avg);
}

function isWindow(x: unknown): x is PlantWindow {
  const w = x as PlantWindow;
  return !!w && typeof w.device === 'string' && typeof w.sensor === 'string' && typeof w.windowStart === 'number' && typeof w.count === 'number';
}

/** Parses result lines; the ones that are not results are returned apart. */
export function parseResults(lines: readonly string[]): { rows: PlantWindow[]; malformed: string[] } {
  const rows: PlantWindow[] = [];
  const malformed: string[] = [];
  for (const line of lines) {
    try {
      const v: unknown = JSON.parse(line);
      if (isWindow(v)) rows.push(v);
      else malformed.push(line);
    } catch {
      malformed.push(line);
    }
  }
  return { rows, malformed };
}

/** The output of a run against the failure-free reference, window by window. */
export function compareResults(reference: ReadonlyMap<string, PlantWindow>, outputLines: readonly string[], late: number, referenceLate = 0): Comparison {
  const { rows, malformed } = parseResults(outputLines);
  const byKey = new Map<string, PlantWindow[]>();
  for (const r of rows) {
    const k = plantKey(r);
    const list = byKey.get(k);
    if (list) list.push(r);
    else byKey.set(k, [r]);
  }
  const c: Comparison = {
    compared: reference.size, outputLines: outputLines.length, distinct: byKey.size,
    lost: 0, duplicated: 0, extraLines: 0, wrong: 0, unexpected: 0, malformed: malformed.length, late, referenceLate,
    examples: { lost: [], duplicated: [], wrong: [], unexpected: [], malformed: malformed.slice(0, 3) },
  };
  const note = (list: string[], s: string) => void (list.length < 5 && list.push(s));
  for (const [k, want] of reference) {
    const got = byKey.get(k);
    if (!got) {
      c.lost++;
      note(c.examples.lost, k);
      continue;
    }
    const bad = got.find((g) => !sameValues(g, want));
    if (bad) {
      c.wrong++;
      note(c.examples.wrong, `${k}: got ${JSON.stringify(bad)}, expected ${JSON.stringify(want)}`);
    }
  }
  for (const [k, got] of byKey) {
    if (got.length > 1) {
      c.duplicated++;
      c.extraLines += got.length - 1;
      note(c.examples.duplicated, `${k} x${got.length}`);
    }
    if (!reference.has(k)) {
      c.unexpected++;
      note(c.examples.unexpected, `${k}: ${JSON.stringify(got[0])}`);
    }
  }
  return c;
}

/** Whether the run produced exactly the reference. */
export function isClean(c: Comparison): boolean {
  return c.lost === 0 && c.duplicated === 0 && c.wrong === 0 && c.unexpected === 0 && c.malformed === 0 && c.late === c.referenceLate;
}

/** Reference windows from the output of a failure-free run (`--reference run`). */
export function referenceFromRun(lines: readonly string[]): { reference: Map<string, PlantWindow>; problems: string[] } {
  const { rows, malformed } = parseResults(lines);
  const reference = new Map<string, PlantWindow>();
  const problems = malformed.length > 0 ? [`${malformed.length} malformed line(s) in the reference run's output`] : [];
  let dups = 0;
  for (const r of rows) {
    const k = plantKey(r);
    if (reference.has(k)) dups++;
    else reference.set(k, r);
  }
  if (dups > 0) problems.push(`${dups} duplicated window(s) in the reference run's output`);
  return { reference, problems };
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
