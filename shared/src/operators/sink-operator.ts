import type { Message } from '../message.js';
import type { Sink, SinkSpec } from '../sink/sink.js';
import type { OperatorFactory } from './operator.js';

/**
 * The end of a chain: collects the messages of one input batch and hands them to the sink in one
 * write() at the batch end, whose promise (if any) the runtime awaits — that is the back-pressure
 * path from a slow sink to its sources.
 */
export function sinkOperator(spec: SinkSpec): OperatorFactory {
  return (_emit, ctx) => {
    const sink: Sink = spec.create();
    let buffer: Message[] = [];
    return {
      open: () => sink.open({
        taskIndex: ctx.taskId.index, parallelism: ctx.parallelism, log: ctx.log,
        exactlyOnce: (ctx.checkpointIntervalMs ?? 0) > 0, resume: ctx.recovering ?? false,
      }),
      push(msg) {
        buffer.push(msg);
      },
      onBatchEnd() {
        if (buffer.length === 0) return;
        const batch = buffer;
        buffer = [];
        return sink.write(batch);
      },
      async close() {
        if (buffer.length > 0) await sink.write(buffer.splice(0));
        await sink.close();
      },
    };
  };
}
