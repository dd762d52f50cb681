import { Readable } from 'node:stream';

/** The part of aedes's persistence that keeps retained messages (aedes-persistence's memory one). */
interface RetainedPersistence {
  storeRetained(packet: RetainedPacket, cb?: (err: Error | null) => void): unknown;
  createRetainedStream(pattern: string): Readable;
  createRetainedStreamCombi(patterns: string[]): Readable;
}

interface RetainedPacket {
  topic: string;
  payload: Buffer | Uint8Array;
}

/**
 * Retained messages indexed by topic level, installed on the embedded broker's persistence
 * (startEmbeddedBroker). aedes's memory persistence answers every SUBSCRIBE by testing the
 * filter against every retained topic; with a hello and a status retained per node, a fleet of
 * N nodes each subscribing cost O(N²) at registration (10,000 light agents did not get through
 * in 3 minutes, 9 of every 10 master CPU-seconds in topic matching). Here a filter is answered
 * from the smallest set of topics sharing one of its literal levels (`trib/master/ctl/<node>`:
 * one topic; `trib/+/data/<node>/#`: that node's topics), then matched exactly as MQTT does.
 * Same answers, same order of patterns; duplicates across patterns are kept, as aedes does.
 */
export function indexRetained(persistence: RetainedPersistence): void {
  const retained = new Map<string, RetainedPacket>();
  /** `<level>\u0000<word>` -> topics with that word at that level. */
  const byLevel = new Map<string, Set<string>>();
  const keyOf = (level: number, word: string) => `${level}\u0000${word}`;

  const originalStore = persistence.storeRetained.bind(persistence);
  persistence.storeRetained = (packet, cb) => {
    const { topic } = packet;
    const words = topic.split('/');
    if (packet.payload.length === 0) {
      if (retained.delete(topic)) words.forEach((w, i) => byLevel.get(keyOf(i, w))?.delete(topic));
    } else {
      if (!retained.has(topic)) words.forEach((w, i) => (byLevel.get(keyOf(i, w)) ?? byLevel.set(keyOf(i, w), new Set()).get(keyOf(i, w))!).add(topic));
      retained.set(topic, { ...packet });
    }
    return originalStore(packet, cb);
  };

  function* matching(pattern: string): Generator<RetainedPacket> {
    const filter = pattern.split('/');
    let candidates: Iterable<string> = retained.keys();
    let smallest = Infinity;
    for (let i = 0; i < filter.length; i++) {
      const w = filter[i];
      if (w === '#') break;
      if (w === '+') continue;
      const set = byLevel.get(keyOf(i, w));
      if (!set) return;
      if (set.size < smallest) {
        smallest = set.size;
        candidates = set;
      }
    }
    for (const topic of [...candidates]) {
      if (matches(filter, topic.split('/'))) {
        const p = retained.get(topic);
        if (p) yield p;
      }
    }
  }

  persistence.createRetainedStream = (pattern) => Readable.from(matching(pattern));
  persistence.createRetainedStreamCombi = (patterns) => Readable.from((function* () {
    for (const p of patterns) yield* matching(p);
  })());
}

/** MQTT filter matching by levels: `+` one level, a trailing `#` this level and any below. */
export function matches(filter: readonly string[], topic: readonly string[]): boolean {
  for (let i = 0; i < filter.length; i++) {
    const f = filter[i];
    if (f === '#') return true;
    if (i >= topic.length) return false;
    if (f !== '+' && f !== topic[i]) return false;
  }
  return filter.length === topic.length;
}
