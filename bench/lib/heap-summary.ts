import { readFile } from 'node:fs/promises';

/**
 * The largest kinds of object in a V8 heap snapshot (.heapsnapshot, as written on
 * --heapsnapshot-signal): self size summed by node type and name, biggest first. Enough to say
 * where a heap goes (compiled code, strings, a library's closures) without a browser's DevTools.
 */
export async function heapSummary(file: string, top = 15): Promise<{ what: string; count: number; MB: number }[]> {
  const snap = JSON.parse(await readFile(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const [iType, iName, iSize] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
  const by = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < snap.nodes.length; i += fields.length) {
    const type = types[snap.nodes[i + iType]];
    // Objects by constructor name; the rest (code, strings, arrays, …) by their type.
    const key = type === 'object' || type === 'closure' ? `${type} ${snap.strings[snap.nodes[i + iName]]}` : type;
    const e = by.get(key) ?? { count: 0, bytes: 0 };
    e.count++;
    e.bytes += snap.nodes[i + iSize];
    by.set(key, e);
  }
  return [...by].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, top).map(([what, e]) => ({ what, count: e.count, MB: +(e.bytes / 2 ** 20).toFixed(2) }));
}
