import type { Command } from 'commander';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { createRequire } from 'node:module';
import mqtt from 'mqtt';
import { Params } from '@tributary/shared';
import { writeReadingsFile } from '@tributary/simulators';
import { launchMaster, launchNode, nodeMasterArgs, waitForNodesOnline, type ChildNode, mqttLogin } from '../launcher.js';
import { submitApp } from '../submit.js';
import { runLocal } from './run.js';

/** The repository's examples, next to the `tributary` package (the same from the sources and from cli/dist). */
const examples = join(dirname(createRequire(import.meta.url).resolve('tributary/package.json')), '../examples');

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('start a local cluster (master, worker, 3 agents as separate processes) running examples/plant-monitor.ts')
    .option('--mqtt-port <port>', 'embedded broker port', '1883')
    .option('--http-port <port>', 'REST API port', '8080')
    .option('--local', 'instead: run examples/sensor-windows.ts on generated data in this process (local mode)')
    .option('--readings <n>', 'with --local: number of generated readings', (v) => Number(v), 200_000)
    .action(async (opts: { mqttPort: string; httpPort: string; local?: boolean; readings: number }) => {
      if (opts.local) return localDemo(opts.readings);
      await clusterDemo(opts.mqttPort, opts.httpPort);
    });
}

async function clusterDemo(mqttPort: string, httpPort: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'tributary-demo-'));
  const nodes: ChildNode[] = [];
  const stopAll = async () => {
    await Promise.all(nodes.slice(1).map((n) => n.stop()));
    await nodes[0]?.stop();
    await rm(dir, { recursive: true, force: true });
  };
  let stopping = false;
  const onSignal = () => {
    if (stopping) process.exit(1);
    stopping = true;
    say('\nstopping the agents, the worker and the master...');
    void stopAll().then(() => {
      say('all processes stopped cleanly.');
      process.exit(0);
    });
  };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);

  say('starting a master with its embedded MQTT broker...');
  const master = await launchMaster(['--data', join(dir, 'master'), '--mqtt-port', mqttPort, '--http-port', httpPort]);
  nodes.push(master.node);
  const broker = master.brokerUrl;
  say(`  broker ${broker}, REST API ${master.httpUrl}`);
  say('starting 1 cloud worker and 3 edge agents (dev-1, dev-2 on site plant-1; dev-3 on plant-2)...');
  const agents: [string, string][] = [['dev-1', 'plant-1'], ['dev-2', 'plant-1'], ['dev-3', 'plant-2']];
  // Each node enrols with the master when it enforces authentication (nodeMasterArgs).
  const nodeArgs = async (kind: 'worker' | 'agent', id: string) => [...(await nodeMasterArgs(kind, id, broker, join(dir, id))), '--data', join(dir, id)];
  nodes.push(...(await Promise.all([
    nodeArgs('worker', 'worker-1').then((args) => launchNode('worker', 'worker-1', args)),
    ...agents.map(([id, site]) => nodeArgs('agent', id).then((args) => launchNode('agent', id, [...args, '--label', `site=${site}`]))),
  ])));

  await waitForNodesOnline(master.httpUrl, ['worker-1', ...agents.map(([id]) => id)]);
  const topic = 'plant/windows';
  // The broker refuses anonymous clients: the demo's reader, and the one printed below for the
  // user, are devices of role client allowed to read the results topic (mqttLogin enrols them).
  const consumer = await mqtt.connectAsync(broker, { protocolVersion: 4, clientId: 'demo-reader', ...(await mqttLogin(broker, 'demo-reader', 'client', { read: [topic] })) });
  const viewer = await mqttLogin(broker, 'viewer', 'client', { read: [topic] });
  let shown = 0;
  consumer.on('message', (_t, payload) => {
    if (shown++ < 12) say(`  result: ${payload.toString()}`);
    else if (shown === 13) say('  (…and more every 5 s: follow them with an MQTT client, see below)');
  });
  await consumer.subscribeAsync(topic, { qos: 1 });

  // No `broker` param: plant-monitor's sink publishes on the cluster's broker, as the worker.
  const params = new Params({ topic, windowMs: '5000', intervalMs: '100' });
  const res = await submitApp({ url: master.httpUrl, token: master.adminToken }, join(examples, 'plant-monitor.ts'), params);
  say(`submitted plant-monitor: ${res.tasks.length} tasks — simulated sensors + filter on each agent, 5 s window statistics on the worker`);
  say('');
  say('what to look at:');
  say(`  admin token: ${master.adminToken}   # the REST API and the dashboard's login ask for it`);
  say(`  dashboard: ${master.httpUrl}/                        # live DAG, throughput, min-clock, fleet (open in a browser, log in with the token)`);
  say(`  export TRIBUTARY_TOKEN=${master.adminToken}`);
  say(`  npx tributary apps --master ${master.httpUrl}        # which task runs on which node`);
  say(`  curl -H "Authorization: Bearer $TRIBUTARY_TOKEN" ${master.httpUrl}/apps/plant-monitor   # the application, as JSON`);
  say(`  curl -H "Authorization: Bearer $TRIBUTARY_TOKEN" ${master.httpUrl}/nodes                # the fleet: workers and agents`);
  say(`  mosquitto_sub -h 127.0.0.1 -p ${new URL(broker).port} -i viewer${viewer.password ? ` -u viewer -P ${viewer.password}` : ''} -t ${topic}   # the results, with any MQTT client (device 'viewer', role client)`);
  say('press Ctrl-C to stop everything.');
  say('');
}

async function localDemo(readings: number): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'tributary-demo-'));
  const input = join(dir, 'readings.jsonl');
  const output = join(dir, 'windows.jsonl');
  const n = await writeReadingsFile(input, { count: readings, devices: 20, intervalMs: 5, maxDelayMs: 5_000, lateFraction: 0.001, seed: 42 });
  say(`generated ${n} out-of-order sensor readings from 20 devices -> ${input}`);
  say('running examples/sensor-windows.ts: 10 s tumbling windows per device, maxDelayMs=5000');
  const params = new Params({ input, output, windowMs: '10000', maxDelayMs: '5000' });
  const summary = await runLocal(join(examples, 'sensor-windows.ts'), params, 1024);
  const windows = (await readFile(output, 'utf8')).trim().split('\n');
  const late = (await readFile(`${output}.late`, 'utf8')).trim().split('\n').filter(Boolean);
  const rate = Math.round(n / (summary.durationMs / 1000));
  say(`done in ${summary.durationMs} ms (${rate.toLocaleString('en')} readings/s)`);
  say(`${windows.length} window results -> ${output}; first three:`);
  for (const w of windows.slice(0, 3)) say(`  ${w}`);
  say(`${late.length} readings arrived behind the clock -> ${output}.late`);
  say('next: `npx tributary plan examples/sensor-windows.ts` shows the fused plan; see README.md for more.');
}

function say(line: string): void {
  process.stdout.write(line + '\n');
}
