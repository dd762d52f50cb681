/**
 * The child side of bench/lib/child.ts: JSON-line messages to the benchmark on stdout, commands
 * from it on stdin, handled one at a time. The child exits when stdin closes (the benchmark is
 * done with it, or gone).
 */
import { createInterface } from 'node:readline';

export function send(message: { type: string } & Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(message) + '\n');
}

export type Command = { type: string } & Record<string, unknown>;

export function serve(handle: (command: Command) => Promise<void>, onEnd: () => Promise<void> | void = () => {}): void {
  const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
  let chain = Promise.resolve();
  rl.on('line', (line) => {
    if (line.trim().length === 0) return;
    chain = chain.then(async () => {
      try {
        await handle(JSON.parse(line) as Command);
      } catch (err) {
        send({ type: 'error', message: err instanceof Error ? err.stack ?? err.message : String(err) });
      }
    });
  });
  rl.on('close', () => {
    void chain.then(onEnd).finally(() => process.exit(0));
  });
  process.on('SIGTERM', () => {
    void Promise.resolve(onEnd()).finally(() => process.exit(0));
  });
}

/** Options given to a child as one JSON argument. */
export function argsJson<T>(): T {
  const raw = process.argv[2];
  if (!raw) throw new Error('missing JSON options argument');
  return JSON.parse(raw) as T;
}
