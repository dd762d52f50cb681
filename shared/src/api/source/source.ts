import type { Logger } from '../logger.js';
import type { ConnectorRef } from '../connector-ref.js';
import type { Message } from '../message.js';
import type { WatermarkSpec } from '../clock/watermark.js';

export interface SourceContext {
  readonly taskIndex: number;
  readonly parallelism: number;
  readonly log: Logger;
  /** Id and labels of the node hosting this source (an edge agent's device id, for instance). */
  readonly nodeId: string;
  readonly nodeLabels: Readonly<Record<string, string>>;
  /** The application's and the source processor's names (stable across restarts), as sinks get them. */
  readonly app?: string;
  readonly processor?: string;
  /**
   * Report an input record that cannot be accepted (malformed line, no valid timestamp). It is
   * counted in the source's `rejected` metric and logged (rate-limited); the source goes on.
   */
  reject(reason: string, detail?: unknown): void;
  /**
   * Where to continue after a restart: what position() returned after the last batch that reached
   * the replay log. Undefined on a first start. A source that cannot seek ignores it.
   */
  readonly resumeFrom?: unknown;
}

/**
 * Where records enter an application. The runtime calls open() once, then read() in a loop
 * (never concurrently), and close() once at the end or on shutdown.
 */
export interface Source<T = unknown> {
  open(ctx: SourceContext): void | Promise<void>;
  /**
   * Up to `max` records. May wait until records are available. Returns null once the input has
   * ended for good (a bounded source), which moves the source's clock to +Infinity.
   */
  read(max: number): Promise<Message<T>[] | null>;
  close(): void | Promise<void>;
  /**
   * Where reading stands after the last read(): plain data (CBOR-encodable), stored in the replay
   * log with each batch and handed back as `ctx.resumeFrom` after a restart, so a restarted source
   * continues after what the log already holds instead of reading it again. Optional: a source
   * without it (an MQTT subscription, say) relies on its transport to redeliver what was not acked.
   */
  position?(): unknown;
}

/** How an application declares a source: a factory (one Source per task) plus its clock policy. */
export interface SourceSpec<T = unknown> {
  readonly kind: 'source';
  /** Short name shown in plans and on the dashboard, e.g. `lines(input.txt)`. */
  readonly name: string;
  readonly watermark: WatermarkSpec;
  /** Most tasks this source can run as (a single file: 1). */
  readonly maxParallelism: number;
  /** Built-in sources and sinks with I/O: the host supplies the implementation (createSource). */
  readonly connector?: ConnectorRef;
  create(): Source<T>;
}
