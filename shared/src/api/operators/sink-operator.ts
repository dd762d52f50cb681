import type { Message } from '../message.js';
import type { Sink, SinkSpec } from '../sink/sink.js';
import type { OperatorFactory } from './operator.js';
import { createSink } from '../connectors.js';

/**
 * The end of a chain: collects the messages of one input batch and hands them to the sink in one
 * write() at the batch end, whose promise (if any) the runtime awaits — that is the back-pressure
 * path from a slow sink to its sources. A checkpoint snapshotted during the batch reaches the sink
 * (checkpoint(t)) once the batch is written, before the runtime reports it.
 */
export function sinkOperator(spec: SinkSpec): OperatorFactory {
  return (_emit, ctx) => {
    const sink: Sink = createSink(spec, ctx.connectors);
    let buffer: Message[] = [];
    let checkpointAt: number | null = null;
    return {
      open: () => sink.open({
        taskIndex: ctx.taskId.index, parallelism: ctx.parallelism, log: ctx.log,
        exactlyOnce: (ctx.checkpointIntervalMs ?? 0) > 0, resume: ctx.recovering ?? false,
        app: ctx.app, processor: ctx.processorName,
      }),
      push(msg) {
        buffer.push(msg);
      },
      checkpointComplete(t) {
        sink.checkpointComplete?.(t);
      },
      snapshot(t) {
        if (sink.checkpoint) checkpointAt = t;
        return undefined;
      },
      onBatchEnd() {
        const t = checkpointAt;
        checkpointAt = null;
        let written: void | Promise<void> = undefined;
        if (buffer.length > 0) {
          const batch = buffer;
          buffer = [];
          written = sink.write(batch);
        }
        if (t === null) return written;
        return written ? written.then(() => sink.checkpoint!(t)) : sink.checkpoint!(t);
      },
      async close() {
        if (buffer.length > 0) await sink.write(buffer.splice(0));
        await sink.close();
      },
      // Abandoned: nothing more is written (a recovery replays it), the connection is released.
      async abort() {
        buffer = [];
        await sink.close();
      },
    };
  };
}
