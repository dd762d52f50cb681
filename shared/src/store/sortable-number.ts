/**
 * Numbers in LevelDB keys that sort as numbers: an offset keeps negatives positive, fixed width
 * keeps the order lexical. The offset is 2^52, not 2^53: above 2^53 a double holds only even
 * integers, so n + 2^53 would round. Timestamps (~1.7e12) and sequence numbers are far below 2^52.
 */
const OFFSET = 2 ** 52;

export const sortableNumber = (n: number): string => (n + OFFSET).toString(16).padStart(14, '0');

export const parseSortableNumber = (s: string): number => parseInt(s, 16) - OFFSET;
