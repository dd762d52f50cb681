import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, waitForPort } from './ports.js';
import { tempDir } from './tmp.js';

export const MOSQUITTO_BIN = '/usr/sbin/mosquitto';

export interface MosquittoOptions {
  /** Port on 127.0.0.1; default a free ephemeral one. Pass the old port to "restart" a broker. */
  port?: number;
  /** Text of an `acl_file` (e.g. `mosquittoAclFor()`). */
  acl?: string;
  /** Default true. */
  allowAnonymous?: boolean;
}

export interface Mosquitto {
  readonly url: string;
  readonly port: number;
  /** Everything Mosquitto logged so far (stderr), for failure messages. */
  output(): string;
  /** SIGTERM (SIGKILL if it lingers), awaits exit, removes the config dir. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts Debian's Mosquitto by hand (not the system service) on 127.0.0.1 with a generated
 * config, and resolves once it accepts TCP connections.
 */
export async function startMosquitto(options: MosquittoOptions = {}): Promise<Mosquitto> {
  // A free port found by probing may be taken before Mosquitto binds it: try a few.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options.port ?? (await freePort()), options);
    } catch (err) {
      if (options.port !== undefined || attempt >= 3 || !String(err).includes('Address already in use')) throw err;
    }
  }
}

async function startOnce(port: number, options: MosquittoOptions): Promise<Mosquitto> {
  const dir = await tempDir('tributary-mosquitto-');
  // Started as root, Mosquitto drops to user `mosquitto` before it reads the ACL file.
  await chmod(dir.path, 0o755);
  const lines = [
    `listener ${port} 127.0.0.1`,
    `allow_anonymous ${options.allowAnonymous ?? true}`,
    'persistence false',
    'log_dest stderr',
    'log_type all',
  ];
  if (options.acl !== undefined) {
    const aclPath = join(dir.path, 'acl');
    await writeFile(aclPath, options.acl, { mode: 0o644 });
    lines.push(`acl_file ${aclPath}`);
  }
  const confPath = join(dir.path, 'mosquitto.conf');
  await writeFile(confPath, lines.join('\n') + '\n', { mode: 0o644 });

  let output = '';
  const child: ChildProcess = spawn(MOSQUITTO_BIN, ['-c', confPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    output = (output + chunk).slice(-64_000);
  });
  // Settles on exit, or on a spawn failure (`once` rejects on 'error').
  const exited = once(child, 'exit').catch((err: Error) => {
    output += `\nspawn failed: ${err.message}`;
  });
  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(killer);
      }
      await dir.cleanup();
    })();
    return stopping;
  };

  try {
    await waitForPort(port, { abort: exited });
  } catch (err) {
    await stop();
    throw new Error(`mosquitto did not start on port ${port}: ${(err as Error).message}\n${output}`);
  }
  return { url: `mqtt://127.0.0.1:${port}`, port, output: () => output, stop };
}
