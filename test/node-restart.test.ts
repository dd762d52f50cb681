import test from 'ava';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cborDecoder, cborEncoder, topics, type AppAssignment, type NodeDesiredState, type NodeHello } from '@tributary/shared';
import { startNode } from './helpers/cluster.js';
import { plainClient, silent } from './helpers/mqtt.js';
import { startEmbeddedBroker } from '../cloud-core/src/broker/index.js';
import { tempDir } from './helpers/tmp.js';

test('a restarted node ignores the retained desired state of its previous run and takes the one for this run', async (t) => {
  // Serves no bundle (404) but records which ones a node asked for.
  const requested: string[] = [];
  const bundles = createServer((req, res) => {
    requested.push(req.url ?? '');
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => bundles.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => bundles.close(() => resolve())));
  const bundleUrl = (app: string) => `http://127.0.0.1:${(bundles.address() as AddressInfo).port}/bundles/${app}`;
  const assignment = (app: string): AppAssignment => ({
    app, epoch: 1, version: 1, params: {}, tasks: [], bundle: { sha256: '0'.repeat(64), url: bundleUrl(app) },
  });

  const broker = await startEmbeddedBroker({ port: 0, log: silent });
  t.teardown(() => broker.close());
  const dir = await tempDir();
  t.teardown(dir.cleanup);
  const master = await plainClient(t, broker.url);
  // What the master told this node before it restarted, still retained on the broker.
  const stale: NodeDesiredState = { node: 'n-1', apps: [assignment('stale-app')], boot: 'previous-run' };
  await master.publishAsync(topics.control('n-1'), Buffer.from(cborEncoder.encode(stale)), { qos: 1, retain: true });
  const hello = new Promise<NodeHello>((resolve) => {
    master.on('message', (topic, payload) => topic === topics.hello('n-1') && resolve(cborDecoder.decode(payload) as NodeHello));
  });
  await master.subscribeAsync(topics.hello('n-1'), { qos: 1 });

  const node = await startNode('agent', 'n-1', broker.url, dir.path);
  t.teardown(() => node.stop());
  // A structured field of the node's log (a process boundary: no other event reaches the test).
  const ignored = await node.waitFor((l) => l.event === 'stale-desired-state', 'the stale desired state ignored');
  t.is(ignored.boot, 'previous-run');
  // The master, having seen this run's hello, addresses the node's new run. This stand-in master
  // has no signing key to offer, so the node refuses the bundle by name before fetching it
  // (reason no-key): that refusal is the event "the node took this assignment".
  const fresh: NodeDesiredState = { node: 'n-1', apps: [assignment('fresh-app')], boot: (await hello).boot };
  await master.publishAsync(topics.control('n-1'), Buffer.from(cborEncoder.encode(fresh)), { qos: 1, retain: true });
  const taken = await node.waitFor((l) => l.event === 'bundle-rejected' && l.app === 'fresh-app', 'the fresh assignment taken');
  t.is(taken.reason, 'no-key');
  t.false(node.lines.some((l) => l.app === 'stale-app'), 'the previous run\'s application was never started');
  t.false(requested.some((r) => r.includes('stale-app')), 'nor its bundle asked for');
});
