import test from 'ava';
import { cborDecoder, cborEncoder, topics, type AppAssignment, type NodeDesiredState, type NodeHello } from '@tributary/shared';
import { startNode } from './helpers/cluster.js';
import { plainClient, silent } from './helpers/mqtt.js';
import { startEmbeddedBroker } from '../cloud-core/src/broker/index.js';
import { tempDir } from './helpers/tmp.js';

const assignment = (app: string): AppAssignment => ({
  app, epoch: 1, version: 1, params: {}, tasks: [],
  // Nothing serves it: a node that tries to start the app logs that it cannot fetch the bundle.
  bundle: { sha256: '0'.repeat(64), url: 'http://127.0.0.1:9/bundles/none' },
});

test('a restarted node ignores the retained desired state of its previous run and takes the one for this run', async (t) => {
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
  await node.waitFor((l) => String(l.msg).startsWith('desired state of an earlier run of this node ignored'), 'the stale desired state ignored');
  // The master, having seen this run's hello, addresses the node's new run.
  const fresh: NodeDesiredState = { node: 'n-1', apps: [assignment('fresh-app')], boot: (await hello).boot };
  await master.publishAsync(topics.control('n-1'), Buffer.from(cborEncoder.encode(fresh)), { qos: 1, retain: true });
  await node.waitFor((l) => l.msg === 'cannot fetch application bundle' && l.app === 'fresh-app', 'the fresh assignment taken');
  t.false(node.output.some((l) => l.includes('stale-app') && l.includes('cannot fetch')), 'the previous run\'s application was never started');
});
