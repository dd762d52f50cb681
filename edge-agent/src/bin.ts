import { Command, CommanderError } from 'commander';
import { isTributaryError } from '@tributary/shared';
import { agentCommand } from './agent-command.js';

/**
 * `tributary-agent`: the entry of the single binary (deploy/build-agent.mjs bundles it with esbuild
 * into one CommonJS file and embeds it in a Node LTS as a single executable application). It is
 * `tributary agent` alone: the same flags, config file and environment (agent-command.ts), plus
 * --version; errors with a Tributary code print as `error [CODE]: message` and exit 1, as the CLI's.
 */
const VERSION = '0.1.0';

// Node 24 warns at run time when mqtt.js parses the broker URL with url.parse (DEP0169); it is
// mqtt.js's to change, and on a device the warning is noise on stderr, so only that one is dropped.
const emitWarning = process.emitWarning.bind(process) as (...args: unknown[]) => void;
process.emitWarning = ((warning: unknown, ...rest: unknown[]) => {
  const code = typeof rest[0] === 'object' && rest[0] !== null ? (rest[0] as { code?: string }).code : rest[1];
  if (code === 'DEP0169' || (warning as { code?: string })?.code === 'DEP0169') return;
  emitWarning(warning, ...rest);
}) as typeof process.emitWarning;

const program = agentCommand(new Command('tributary-agent'), { threads: false })
  .version(`${VERSION} (node ${process.version}, ${process.platform}-${process.arch})`, '-V, --version')
  .showHelpAfterError()
  .exitOverride();

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  process.stderr.write(isTributaryError(err) ? `error [${err.code}]: ${err.message}\n` : `error: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
