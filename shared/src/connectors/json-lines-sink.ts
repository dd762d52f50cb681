import { createWriteStream, type WriteStream } from 'node:fs';
import { readFile, truncate } from 'node:fs/promises';
import { once } from 'node:events';
import type { Message } from '../api/message.js';
import { ErrorCodes, TributaryError } from '../api/errors.js';
import type { Sink, SinkContext } from '../api/sink/sink.js';

/**
 * One write per batch (the lines joined), and back-pressure from the stream: when its buffer is
 * full, write() returns a promise that settles on 'drain', which the runtime awaits.
 */
export class StreamSink<T> implements Sink<T> {
  private stream: NodeJS.WritableStream | null = null;
  private failure: Error | null = null;
  constructor(private readonly openStream: () => NodeJS.WritableStream, private readonly label: string) {}

  async open(_ctx?: SinkContext): Promise<void> {
    const stream = this.openStream();
    stream.on('error', (err: Error) => {
      this.failure = err;
    });
    if (isFileStream(stream)) {
      await Promise.race([once(stream, 'open'), once(stream, 'error').then(([e]) => Promise.reject(e))]).catch((cause: Error) => {
        throw new TributaryError(ErrorCodes.SINK_FAILED, `cannot open ${this.label}: ${cause.message}`, { cause });
      });
    }
    this.stream = stream;
  }

  write(batch: readonly Message<T>[]): void | Promise<void> {
    this.throwIfFailed();
    if (batch.length === 0 || !this.stream) return;
    if (!this.stream.write(linesOf(batch))) return once(this.stream as unknown as NodeJS.EventEmitter, 'drain').then(() => this.throwIfFailed());
  }

  /** Like write(), but resolves only once the stream has handed the bytes to the OS. */
  protected writeDurably(lines: string): Promise<void> | void {
    this.throwIfFailed();
    if (lines.length === 0 || !this.stream) return;
    return new Promise((resolve, reject) => {
      this.stream!.write(lines, (err) => (err ? reject(new TributaryError(ErrorCodes.SINK_FAILED, `writing ${this.label} failed: ${err.message}`, { cause: err })) : resolve()));
    });
  }

  async close(): Promise<void> {
    const stream = this.stream;
    this.stream = null;
    if (!stream || stream === process.stdout) return this.throwIfFailed();
    stream.end();
    await once(stream as unknown as NodeJS.EventEmitter, 'finish');
    this.throwIfFailed();
  }

  protected throwIfFailed(): void {
    if (this.failure) throw new TributaryError(ErrorCodes.SINK_FAILED, `writing ${this.label} failed: ${this.failure.message}`, { cause: this.failure });
  }
}

/**
 * The file sink. Exactly-once: on a recovery it appends instead of truncating and skips every line
 * the file already holds (a replayed result is byte-identical to the one written before the
 * failure, since the pipeline is deterministic from the replay log); a torn last line from a crash
 * is cut off first. Each batch resolves only once the OS has the bytes, so a checkpoint reported
 * after it never covers output still in a user-space buffer.
 */
export class JsonLinesFileSink<T> extends StreamSink<T> {
  private written: Set<string> | null = null;
  private exactlyOnce = false;

  constructor(private readonly path: string) {
    super(() => createWriteStream(path, { flags: this.written ? 'a' : 'w' }), path);
  }

  override async open(ctx?: SinkContext): Promise<void> {
    this.exactlyOnce = ctx?.exactlyOnce ?? false;
    if (this.exactlyOnce && ctx?.resume) this.written = await this.existingLines();
    await super.open();
  }

  private async existingLines(): Promise<Set<string>> {
    const text = await readFile(this.path, 'utf8').catch(() => '');
    const complete = text.lastIndexOf('\n') + 1;
    if (complete < text.length) await truncate(this.path, Buffer.byteLength(text.slice(0, complete)));
    return new Set(text.slice(0, complete).split('\n').filter(Boolean));
  }

  override write(batch: readonly Message<T>[]): void | Promise<void> {
    if (!this.exactlyOnce) return super.write(batch);
    const seen = this.written;
    if (!seen) return this.writeDurably(linesOf(batch));
    // Recovery: each line is serialised once, for the check and for the write.
    let text = '';
    for (const m of batch) {
      const line = JSON.stringify(m.value);
      if (!seen.has(line)) text += line + '\n';
    }
    return this.writeDurably(text);
  }
}

/** One JSON line per message value, joined: one write per batch. */
function linesOf(batch: readonly Message[]): string {
  let text = '';
  for (let i = 0; i < batch.length; i++) text += JSON.stringify(batch[i].value) + '\n';
  return text;
}

function isFileStream(stream: NodeJS.WritableStream): stream is WriteStream {
  return typeof (stream as WriteStream).path !== 'undefined';
}
