/**
 * Baseline subscriber: counts what arrives on a topic (QoS 1) and measures, per record, arrival
 * time minus event time. Frames are decoded with decodeFrame (Tributary's own codec), JSON
 * messages with JSON.parse. Options (argv JSON): { url, clientId }.
 * Command { type: 'expect', topic, format, records, warmupMs | null, timeoutMs } -> { type: 'armed' } once
 * subscribed, then { type: 'received', ... } when `records` have arrived or the timeout passed.
 */
import { decodeFrame } from '@tributary/shared';
import { latencySummary } from '../apps/figures.js';
import { argsJson, send, serve } from './io.js';
import { connect } from './mqtt-client.js';

interface ExpectCommand {
  topic: string;
  format: 'frames' | 'json';
  records: number;
  /** Latency only for paced loads (an unpaced fleet's event time is not a birth time); null: none. */
  warmupMs: number | null;
  timeoutMs: number;
}

const { url, clientId } = argsJson<{ url: string; clientId: string }>();
const client = await connect(url, clientId);
const now = () => performance.timeOrigin + performance.now();

async function expect(c: ExpectCommand): Promise<void> {
  let records = 0;
  let firstTs = Infinity;
  let measureFrom = Infinity;
  let firstArrival = 0;
  let lastArrival = 0;
  let latencies = new Float64Array(1 << 16);
  let n = 0;
  const seen = (ts: number, at: number) => {
    records++;
    if (ts < firstTs) firstTs = ts;
    if (c.warmupMs === null) return;
    if (measureFrom === Infinity) measureFrom = ts + c.warmupMs;
    if (ts < measureFrom) return;
    if (n === latencies.length) {
      const grown = new Float64Array(n * 2);
      grown.set(latencies);
      latencies = grown;
    }
    latencies[n++] = at - ts;
  };
  let finish!: (timedOut: boolean) => void;
  const finished = new Promise<boolean>((resolve) => (finish = resolve));
  const onMessage = (topic: string, payload: Buffer) => {
    if (topic !== c.topic) return;
    const at = now();
    if (firstArrival === 0) firstArrival = at;
    lastArrival = at;
    if (c.format === 'frames') {
      for (const m of decodeFrame(payload).messages) seen(m.ts, at);
    } else {
      seen((JSON.parse(payload.toString()) as { ts: number }).ts, at);
    }
    if (records >= c.records) finish(false);
  };
  client.on('message', onMessage);
  await client.subscribeAsync(c.topic, { qos: 1 });
  send({ type: 'armed' });
  const timer = setTimeout(() => finish(true), c.timeoutMs);
  const timedOut = await finished;
  clearTimeout(timer);
  client.removeListener('message', onMessage);
  await client.unsubscribeAsync(c.topic);
  send({ type: 'received', records, firstTs, firstArrival, lastArrival, timedOut, latency: latencySummary(latencies.subarray(0, n)) });
}

send({ type: 'ready' });
serve(async (cmd) => {
  if (cmd.type === 'expect') await expect(cmd as unknown as ExpectCommand);
}, () => client.endAsync().catch(() => {}));
