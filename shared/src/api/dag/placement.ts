/**
 * Where a processor's tasks run. This is configuration, not code: moving a processor between
 * edge and cloud changes only its placement.
 *   edge  — on edge agents whose labels match `selector` (one task per matching agent by default);
 *   cloud — on cloud workers;
 *   any   — wherever the scheduler likes (local mode runs everything in one process).
 */
export interface Placement {
  readonly where: 'edge' | 'cloud' | 'any';
  readonly selector?: Readonly<Record<string, string>>;
}

export const ANYWHERE: Placement = { where: 'any' };

export function samePlacement(a: Placement, b: Placement): boolean {
  if (a.where !== b.where) return false;
  const ka = Object.keys(a.selector ?? {}).sort();
  const kb = Object.keys(b.selector ?? {}).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a.selector![k] === b.selector![k]);
}

export function describePlacement(p: Placement): string {
  const sel = Object.entries(p.selector ?? {}).map(([k, v]) => `${k}=${v}`);
  return sel.length > 0 ? `${p.where}(${sel.join(',')})` : p.where;
}
