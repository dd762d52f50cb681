import { connect } from 'node:net';
import getPort from 'get-port';

/** A TCP port free on 127.0.0.1 right now (another process may still take it before use). */
export function freePort(): Promise<number> {
  return getPort({ host: '127.0.0.1' });
}

/** Resolves true if something accepts a TCP connection on host:port, false if refused. */
export function canConnect(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/**
 * Waits until host:port accepts connections: retries a connect up to `attempts` times, `delayMs`
 * apart, and stops early if `abort` (e.g. "the server process exited") resolves. Bounded: rejects
 * after the last attempt.
 */
export async function waitForPort(
  port: number,
  { host = '127.0.0.1', attempts = 100, delayMs = 20, abort }: { host?: string; attempts?: number; delayMs?: number; abort?: Promise<unknown> } = {},
): Promise<void> {
  let aborted = false;
  void abort?.then(() => (aborted = true));
  for (let i = 0; i < attempts; i++) {
    if (aborted) throw new Error(`gave up waiting for ${host}:${port}: server exited`);
    if (await canConnect(port, host)) return;
    await new Promise((resolve) => setTimeout(resolve, delayMs));
  }
  throw new Error(`${host}:${port} did not accept connections after ${attempts} attempts`);
}
