/**
 * Baseline subscriber: counts what arrives on a topic (QoS 1) and measures, per record, arrival
 * time minus event time. Frames are decoded with decodeFrame (Tributary's own codec), JSON
 * messages with JSON.parse. With `windowMs` (the hand-written pipeline baseline) every decoded
 * record also goes into a keyed tumbling window of that size (key: its device; count, first and
 * last event time), closed when the frames' clock passes its end, the rest when the input ends.
 * Options (argv JSON): { url, clientId }.
 * Command { type: 'expect', topic, format, records, warmupMs | null, timeoutMs } -> { type: 'armed' } once
 * subscribed, then { type: 'received', ... } when `records` have arrived, the timeout passed, or
 * nothing arrived for 15 s after the first record.
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
  /** Keyed tumbling windows of this size over the decoded records (hand-written baseline). */
  windowMs?: number;
}

/** A plain keyed tumbling window: per window start, per device, a count and the event-time span. */
class KeyedWindows {
  private readonly open = new Map<number, Map<string, { count: number; first: number; last: number }>>();
  results = 0;
  windowed = 0;
  constructor(private readonly size: number) {}

  add(ts: number, device: string): void {
    const start = ts - (ts % this.size);
    let byKey = this.open.get(start);
    if (!byKey) this.open.set(start, (byKey = new Map()));
    const acc = byKey.get(device);
    if (acc) {
      acc.count++;
      if (ts < acc.first) acc.first = ts;
      if (ts > acc.last) acc.last = ts;
    } else {
      byKey.set(device, { count: 1, first: ts, last: ts });
    }
  }

  /** Emits (counts) every window that ends at or before `clock`. */
  close(clock: number): void {
    for (const [start, byKey] of this.open) {
      if (start + this.size > clock) continue;
      for (const acc of byKey.values()) {
        this.results++;
        this.windowed += acc.count;
      }
      this.open.delete(start);
    }
  }
}

const { url, clientId } = argsJson<{ url: string; clientId: string }>();
const client = await connect(url, clientId);
const now = () => performance.timeOrigin + performance.now();
/** Once records flow, this long without one ends the run as short (see `quiet` below). */
const QUIET_MS = 15_000;

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
  const windows = c.windowMs ? new KeyedWindows(c.windowMs) : null;
  let finish!: (timedOut: boolean) => void;
  const finished = new Promise<boolean>((resolve) => (finish = resolve));
  const onMessage = (topic: string, payload: Buffer) => {
    if (topic !== c.topic) return;
    const at = now();
    if (firstArrival === 0) firstArrival = at;
    lastArrival = at;
    if (c.format === 'frames') {
      const frame = decodeFrame(payload);
      for (const m of frame.messages) {
        seen(m.ts, at);
        if (windows) windows.add(m.ts, (m.value as { device: string }).device);
      }
      windows?.close(frame.clock);
    } else {
      seen((JSON.parse(payload.toString()) as { ts: number }).ts, at);
    }
    if (records >= c.records) {
      windows?.close(Infinity);
      if (windows) lastArrival = now();
      finish(false);
    }
  };
  client.on('message', onMessage);
  await client.subscribeAsync(c.topic, { qos: 1 });
  send({ type: 'armed' });
  const timer = setTimeout(() => finish(true), c.timeoutMs);
  // A relay that lost records (Node-RED once did) ends the run after a silence, not at the timeout.
  const quiet = setInterval(() => {
    if (firstArrival > 0 && now() - lastArrival > QUIET_MS) finish(true);
  }, 1000);
  const timedOut = await finished;
  clearTimeout(timer);
  clearInterval(quiet);
  client.removeListener('message', onMessage);
  await client.unsubscribeAsync(c.topic);
  send({
    type: 'received', records, firstTs, firstArrival, lastArrival, timedOut, latency: latencySummary(latencies.subarray(0, n)),
    ...(windows ? { windowResults: windows.results, windowed: windows.windowed } : {}),
  });
}

send({ type: 'ready' });
serve(async (cmd) => {
  if (cmd.type === 'expect') await expect(cmd as unknown as ExpectCommand);
}, () => client.endAsync().catch(() => {}));
