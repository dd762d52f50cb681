import { BroadcastPartitioner } from './broadcast-partitioner.js';
import { ForwardPartitioner } from './forward-partitioner.js';
import { HashPartitioner } from './hash-partitioner.js';
import type { Partitioner, PartitionerSpec, PartitionerType } from './partitioner.js';
import { ShufflePartitioner } from './shuffle-partitioner.js';

export * from './partitioner.js';
export { BroadcastPartitioner, ForwardPartitioner, HashPartitioner, ShufflePartitioner };
export { hashKey } from './hash-partitioner.js';

export const hash = (): PartitionerSpec => ({ type: 'hash' });
export const shuffle = (): PartitionerSpec => ({ type: 'shuffle' });
export const broadcast = (): PartitionerSpec => ({ type: 'broadcast' });
export const forward = (): PartitionerSpec => ({ type: 'forward' });

const factories: Record<PartitionerType, (senderIndex: number) => Partitioner> = {
  hash: () => new HashPartitioner(),
  shuffle: (i) => new ShufflePartitioner(i),
  broadcast: () => new BroadcastPartitioner(),
  forward: (i) => new ForwardPartitioner(i),
};

/** A fresh partitioner for one sending task. */
export function createPartitioner(spec: PartitionerSpec, senderIndex: number): Partitioner {
  const make = factories[spec.type];
  if (!make) throw new TypeError(`unknown partitioner type ${JSON.stringify(spec.type)}`);
  return make(senderIndex);
}
