/**
 * A FIFO with O(1) push and shift (a growing ring of chunks would do too; two arrays and a head
 * index are enough): what mqemitter's message queue needs.
 */
export class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): number {
    this.items.push(item);
    return this.length;
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    // Compact once the consumed prefix is most of the array (amortised O(1) per item).
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}

/**
 * Gives aedes's message emitter (mqemitter) O(1) queues. It queues messages beyond its
 * concurrency (100 deliveries in flight) in plain arrays and takes each with `Array.shift()`,
 * which is O(queue length) on a long queue: with 10,000 light agents' heartbeats arriving faster
 * than a loaded master delivered them, the queue grew and shifting it took 16 % of the master's
 * CPU (profile of the control-plane benchmark), so it fell further behind: connections timed out
 * waiting for CONNACK. Called by startEmbeddedBroker on its broker's `mq`.
 */
export function fifoQueues(mq: { _messageQueue?: unknown; _messageCallbacks?: unknown }): void {
  if (!Array.isArray(mq._messageQueue) || !Array.isArray(mq._messageCallbacks)) return;
  const messages = new Fifo<unknown>();
  const callbacks = new Fifo<unknown>();
  for (const m of mq._messageQueue) messages.push(m);
  for (const c of mq._messageCallbacks) callbacks.push(c);
  mq._messageQueue = messages;
  mq._messageCallbacks = callbacks;
}
