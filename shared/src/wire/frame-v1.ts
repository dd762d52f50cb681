import { isEventTime, type Message } from '../api/message.js';
import { describe, invalid } from './frame-bytes.js';

/**
 * Version 1 of the wire format, which nodes still decode (frames from a node not yet upgraded,
 * replay logs written before version 2): one CBOR array
 *
 *   [1, app, epoch, sender, firstSeq, clock, [[ts, value] | [ts, value, key], ...]]
 *
 * Its encoder stays for the compatibility tests and for comparing the two in benchmarks; every
 * node sends version 2 (frame.ts).
 */
export const FRAME_V1 = 1;
export const V1_FIELDS = 7;

/** Messages as v1 wire items; the key is written only when present. Throws TypeError. */
export function v1Items(messages: readonly Message[]): unknown[] {
  const items = new Array<unknown>(messages.length);
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    if (typeof m !== 'object' || m === null) throw new TypeError(`encodeFrame: messages[${i}] must be a message object`);
    if (!isEventTime(m.ts)) throw new TypeError(`encodeFrame: messages[${i}].ts must be a safe integer, got ${describe(m.ts)}`);
    items[i] = m.key === undefined ? [m.ts, m.value] : [m.ts, m.value, m.key];
  }
  return items;
}

/** The messages of a decoded v1 frame (its seventh field). Throws FrameError. */
export function v1Messages(items: unknown, maxMessages: number): Message[] {
  if (!Array.isArray(items)) throw invalid(`messages must be an array, got ${describe(items)}`);
  if (items.length > maxMessages) {
    throw invalid(`frame holds ${items.length} messages, more than the limit of ${maxMessages}`);
  }
  const messages = new Array<Message>(items.length);
  for (let i = 0; i < items.length; i++) {
    const item: unknown = items[i];
    if (!Array.isArray(item) || (item.length !== 2 && item.length !== 3)) {
      throw invalid(`messages[${i}] must be an array [ts, value] or [ts, value, key], got ${describe(item)}`);
    }
    const ts: unknown = item[0];
    if (!isEventTime(ts)) throw invalid(`messages[${i}].ts must be a safe integer, got ${describe(ts)}`);
    // an explicit undefined key reads as no key, as encodeFrame would have written it
    messages[i] = item[2] === undefined ? { ts, value: item[1] } : { ts, key: item[2], value: item[1] };
  }
  return messages;
}
