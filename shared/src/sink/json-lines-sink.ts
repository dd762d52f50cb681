import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Message } from '../message.js';
import { ErrorCodes, TributaryError } from '../errors.js';
import type { Sink, SinkSpec } from './sink.js';

/** Writes each message's value as one JSON line to a file (created or truncated on open). */
export function jsonLinesSink<T = unknown>(path: string): SinkSpec<T> {
  if (typeof path !== 'string' || path.length === 0) throw new TypeError('jsonLinesSink(path): path must be a non-empty string');
  return { kind: 'sink', name: `jsonLines(${path})`, maxParallelism: 1, create: () => new StreamSink<T>(() => createWriteStream(path), path) };
}

/** Writes each message's value as one JSON line to standard output. */
export function stdoutSink<T = unknown>(): SinkSpec<T> {
  return { kind: 'sink', name: 'stdout', maxParallelism: 1, create: () => new StreamSink<T>(() => process.stdout, 'stdout') };
}

/**
 * One write per batch (the lines joined), and back-pressure from the stream: when its buffer is
 * full, write() returns a promise that settles on 'drain', which the runtime awaits.
 */
class StreamSink<T> implements Sink<T> {
  private stream: NodeJS.WritableStream | null = null;
  private failure: Error | null = null;
  constructor(private readonly openStream: () => NodeJS.WritableStream, private readonly label: string) {}

  async open(): Promise<void> {
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
    let text = '';
    for (let i = 0; i < batch.length; i++) text += JSON.stringify(batch[i].value) + '\n';
    if (!this.stream.write(text)) return once(this.stream as unknown as NodeJS.EventEmitter, 'drain').then(() => this.throwIfFailed());
  }

  async close(): Promise<void> {
    const stream = this.stream;
    this.stream = null;
    if (!stream || stream === process.stdout) return this.throwIfFailed();
    stream.end();
    await once(stream as unknown as NodeJS.EventEmitter, 'finish');
    this.throwIfFailed();
  }

  private throwIfFailed(): void {
    if (this.failure) throw new TributaryError(ErrorCodes.SINK_FAILED, `writing ${this.label} failed: ${this.failure.message}`, { cause: this.failure });
  }
}

function isFileStream(stream: NodeJS.WritableStream): stream is WriteStream {
  return typeof (stream as WriteStream).path !== 'undefined';
}
