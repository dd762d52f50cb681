/**
 * Baseline publisher: plays the benchmark's device fleet (the same source, seed and records as
 * the Tributary runs) and publishes it with plain mqtt.js at QoS 1, either
 *  - `frames`: batches of up to `frameRecords` records as Tributary wire frames (encodeFrame: the
 *    same cbor-x encoder and layout), at most `inflight` frames awaiting their PUBACK; or
 *  - `json`: one JSON message per record (what Node-RED consumes), at most `inflight` unacked.
 * No processing. With `durableDir` (the hand-written pipeline baseline) every frame is first put
 * into a LevelDB there, one awaited put per frame, then published (log first, then send).
 * Options (argv JSON): { url, clientId }.
 * Command { type: 'publish', topic, load, format, frameRecords, inflight } -> { type: 'published' }.
 */
import { rm } from 'node:fs/promises';
import { Level } from 'level';
import { createLogger, encodeFrame, type Message, type SourceContext } from '@tributary/shared';
import { deviceSource, type DeviceLoad } from '../apps/devices.js';
import { argsJson, send, serve } from './io.js';
import { connect } from './mqtt-client.js';

interface PublishCommand {
  topic: string;
  load: DeviceLoad;
  format: 'frames' | 'json';
  frameRecords: number;
  inflight: number;
  /** Frames go to a LevelDB here (one put per frame, awaited) before they are published. */
  durableDir?: string;
}

const { url, clientId } = argsJson<{ url: string; clientId: string }>();
const client = await connect(url, clientId);
const ctx: SourceContext = { taskIndex: 0, parallelism: 1, log: createLogger({ level: 'silent' }), nodeId: clientId, nodeLabels: {}, reject() {} };

/** A window of unacknowledged publishes. */
class Window {
  private open = 0;
  private waiting: (() => void)[] = [];
  private failed: Error | null = null;
  constructor(private readonly size: number) {}
  async acquire(): Promise<void> {
    if (this.failed) throw this.failed;
    if (this.open < this.size) {
      this.open++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
    if (this.failed) throw this.failed;
  }
  readonly done = (err?: Error) => {
    if (err) this.failed = err;
    const next = this.waiting.shift();
    if (next) next();
    else this.open--;
  };
  async drain(): Promise<void> {
    while (this.open > 0) await new Promise((r) => setTimeout(r, 1));
    if (this.failed) throw this.failed;
  }
}

async function publish(c: PublishCommand): Promise<void> {
  const source = deviceSource(c.load).create();
  await source.open(ctx);
  const window = new Window(c.inflight);
  const db = c.durableDir ? new Level<string, Uint8Array>(c.durableDir, { valueEncoding: 'view' }) : null;
  await db?.open();
  const t0 = performance.now();
  let records = 0;
  let frames = 0;
  let firstTs = Infinity;
  for (;;) {
    const batch = (await source.read(c.format === 'frames' ? c.frameRecords : 1024)) as Message[] | null;
    if (batch === null) break;
    if (batch.length === 0) continue;
    if (batch[0].ts < firstTs) firstTs = batch[0].ts;
    if (c.format === 'frames') {
      const bytes = encodeFrame({ app: 'baseline', epoch: 1, sender: 0, firstSeq: records, clock: batch[batch.length - 1].ts, messages: batch });
      if (db) await db.put(`f!${String(frames).padStart(12, '0')}`, bytes);
      await window.acquire();
      client.publish(c.topic, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { qos: 1 }, window.done);
      frames++;
    } else {
      for (const m of batch) {
        await window.acquire();
        client.publish(c.topic, JSON.stringify(m.value), { qos: 1 }, window.done);
      }
      frames += batch.length;
    }
    records += batch.length;
  }
  await window.drain();
  await source.close();
  if (db && c.durableDir) {
    await db.close();
    await rm(c.durableDir, { recursive: true, force: true });
  }
  send({ type: 'published', records, frames, firstTs, wallMs: performance.now() - t0 });
}

send({ type: 'ready' });
serve(async (cmd) => {
  if (cmd.type === 'publish') await publish(cmd as unknown as PublishCommand);
}, () => client.endAsync().catch(() => {}));
