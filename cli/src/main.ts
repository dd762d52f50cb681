import { Command, CommanderError } from 'commander';
import { isTributaryError } from '@tributary/shared';
import { registerRun } from './commands/run.js';
import { registerPlan } from './commands/plan.js';
import { registerDemo } from './commands/demo.js';
import { registerCluster } from './commands/cluster.js';
import { registerApps } from './commands/apps.js';
import { registerBroker } from './commands/broker.js';
import { registerTokens } from './commands/tokens.js';
import { registerFleet } from './commands/fleet.js';
import { registerCerts } from './commands/certs.js';
import { registerDevices } from './commands/devices.js';

/**
 * The `tributary` command. Composition root only: each subcommand lives in commands/ and owns its
 * flags; errors with a Tributary code are printed as `error [CODE]: message` and exit 1.
 */
const program = new Command()
  .name('tributary')
  .description('Tributary: an edge-to-cloud streaming fabric for IoT fleets')
  .version('0.1.0')
  .showHelpAfterError()
  .exitOverride();

registerRun(program);
registerPlan(program);
registerDemo(program);
registerCluster(program);
registerApps(program);
registerBroker(program);
registerTokens(program);
registerFleet(program);
registerCerts(program);
registerDevices(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  if (isTributaryError(err)) {
    process.stderr.write(`error [${err.code}]: ${err.message}\n`);
  } else {
    process.stderr.write(`error: ${(err as Error)?.stack ?? String(err)}\n`);
  }
  process.exit(1);
}
