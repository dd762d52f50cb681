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

const program = agentCommand(new Command('tributary-agent'))
  .version(`${VERSION} (node ${process.version}, ${process.platform}-${process.arch})`, '-V, --version')
  .showHelpAfterError()
  .exitOverride();

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  process.stderr.write(isTributaryError(err) ? `error [${err.code}]: ${err.message}\n` : `error: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
