import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { VerifyError } from './types.js';

export async function fileSize(path: string): Promise<number> {
  return (await stat(path)).size;
}

/** Calls `each` with every non-empty line of a JSON-lines file, parsed; returns the line count. */
export async function forEachJsonLine<T>(path: string, each: (row: T) => void): Promise<number> {
  let n = 0;
  const rl = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  for await (const line of rl) {
    if (line.length === 0) continue;
    let row: T;
    try {
      row = JSON.parse(line) as T;
    } catch {
      throw new VerifyError(`${path}:${n + 1}: not JSON: ${line.slice(0, 80)}`);
    }
    each(row);
    n++;
  }
  return n;
}

export function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new VerifyError(message);
}
