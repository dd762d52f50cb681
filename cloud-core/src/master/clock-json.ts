/** Clocks in JSON: epoch ms, or "start" before any input (-Infinity), "end" after the last (+Infinity). */
export function clockJson(c: number | undefined): number | 'start' | 'end' {
  if (c === undefined || c === -Infinity) return 'start';
  return c === Infinity ? 'end' : c;
}
