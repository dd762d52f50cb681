/**
 * Node-RED (npm `node-red`, a root devDependency) as a baseline: started headless in a child
 * process with a generated settings file and flows file in a temp user dir — no editor, no admin
 * API, no HTTP listener at all (httpAdminRoot and httpNodeRoot false) — running
 *
 *   mqtt in (inTopic, QoS 1, parsed JSON) -> function (the same plausibility check as the
 *   latency app's edge filter) -> mqtt out (outTopic, QoS 1)
 *
 * against the benchmark's broker on loopback. Node-RED has no batching: one record per message.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import mqtt from 'mqtt';
import { spawnTracked, stopChild } from './child.js';

export interface NodeRed {
  pid: number;
  version: string;
  stop(): Promise<void>;
}

const require = createRequire(import.meta.url);

function nodeRedPackage(): { dir: string; version: string } {
  const pkg = require.resolve('node-red/package.json');
  return { dir: dirname(pkg), version: (require(pkg) as { version: string }).version };
}

export function flows(brokerUrl: string, inTopic: string, outTopic: string): unknown[] {
  const { hostname, port } = new URL(brokerUrl);
  return [
    { id: 'bench-tab', type: 'tab', label: 'tributary bench', disabled: false },
    {
      id: 'bench-broker', type: 'mqtt-broker', name: 'aedes', broker: hostname, port, clientid: 'bench-node-red', autoConnect: true,
      usetls: false, protocolVersion: '4', keepalive: '60', cleansession: true, autoUnsubscribe: true,
      birthTopic: '', closeTopic: '', willTopic: '',
    },
    { id: 'bench-in', type: 'mqtt in', z: 'bench-tab', name: 'readings', topic: inTopic, qos: '1', datatype: 'json', broker: 'bench-broker', nl: false, rap: true, rh: 0, inputs: 0, x: 120, y: 80, wires: [['bench-fn']] },
    {
      id: 'bench-fn', type: 'function', z: 'bench-tab', name: 'plausible', outputs: 1, timeout: 0, noerr: 0, initialize: '', finalize: '', libs: [], x: 320, y: 80,
      func: 'const r = msg.payload;\nreturn r.value > -40 && r.value < 85 ? msg : null;',
      wires: [['bench-out']],
    },
    { id: 'bench-out', type: 'mqtt out', z: 'bench-tab', name: 'out', topic: outTopic, qos: '1', retain: 'false', respTopic: '', contentType: '', userProps: '', correl: '', expiry: '', broker: 'bench-broker', x: 520, y: 80, wires: [] },
  ];
}

function settings(userDir: string): string {
  const s = {
    userDir,
    flowFile: 'flows.json',
    httpAdminRoot: false,
    httpNodeRoot: false,
    credentialSecret: false,
    logging: { console: { level: 'info', metrics: false, audit: false } },
    editorTheme: { projects: { enabled: false } },
    diagnostics: { enabled: false, ui: false },
    runtimeState: { enabled: false, ui: false },
    telemetry: { enabled: false },
    externalModules: { autoInstall: false, palette: { allowInstall: false } },
    functionExternalModules: false,
  };
  return `module.exports = ${JSON.stringify(s, null, 2)};\n`;
}

/** Starts Node-RED and returns once a probe message has made it through the whole flow. */
export async function startNodeRed(dir: string, brokerUrl: string, inTopic: string, outTopic: string, timeoutMs = 60_000): Promise<NodeRed> {
  const { dir: pkgDir, version } = nodeRedPackage();
  await mkdir(dir, { recursive: true });
  const settingsFile = join(dir, 'settings.cjs');
  await writeFile(settingsFile, settings(dir));
  await writeFile(join(dir, 'flows.json'), JSON.stringify(flows(brokerUrl, inTopic, outTopic), null, 2));
  const { child, tail } = spawnTracked(process.execPath, [join(pkgDir, 'red.js'), '--userDir', dir, '--settings', settingsFile, join(dir, 'flows.json')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log: string[] = [];
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    log.push(d);
    if (log.length > 60) log.splice(0, 20);
  });
  try {
    await probe(brokerUrl, inTopic, outTopic, timeoutMs, () => child.exitCode !== null);
  } catch (err) {
    await stopChild(child);
    throw new Error(`Node-RED ${version} did not relay a probe: ${(err as Error).message}\n${log.join('').slice(-2000)}\n${tail.join('\n')}`);
  }
  return { pid: child.pid ?? NaN, version, stop: () => stopChild(child) };
}

/** Publishes a probe every 250 ms until one comes out of the flow; then lets stragglers drain. */
async function probe(url: string, inTopic: string, outTopic: string, timeoutMs: number, dead: () => boolean): Promise<void> {
  const client = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: 'bench-node-red-probe', reconnectPeriod: 0 });
  try {
    let seen = false;
    client.on('message', () => (seen = true));
    await client.subscribeAsync(outTopic, { qos: 1 });
    const deadline = Date.now() + timeoutMs;
    while (!seen) {
      if (dead()) throw new Error('Node-RED exited');
      if (Date.now() > deadline) throw new Error(`no probe came back within ${timeoutMs} ms`);
      await client.publishAsync(inTopic, JSON.stringify({ ts: Date.now(), device: 'probe', sensor: 'probe', value: 0, seq: 0 }), { qos: 1 });
      await new Promise((r) => setTimeout(r, 250));
    }
    await new Promise((r) => setTimeout(r, 500));
  } finally {
    await client.endAsync().catch(() => {});
  }
}
