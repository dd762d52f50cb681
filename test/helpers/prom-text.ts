/**
 * A strict parser of the Prometheus text exposition format (0.0.4), enough to hold /metrics to
 * the format: every sample must belong to a family declared by `# TYPE` (histograms and
 * summaries through their _bucket/_sum/_count suffixes), label values must be quoted and
 * escaped, values must be numbers. Throws with the offending line otherwise.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function parsePromText(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  const sampleRe = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?$/;
  const labelRe = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)/y;
  for (const [i, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*)(?: (.*))?$/.exec(line);
      if (!m) throw new Error(`line ${i + 1}: bad comment: ${line}`);
      if (m[1] === 'TYPE') {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(m[3] ?? '')) throw new Error(`line ${i + 1}: bad type ${m[3]}`);
        if (types.has(m[2])) throw new Error(`line ${i + 1}: ${m[2]} declared twice`);
        types.set(m[2], m[3]!);
      }
      continue;
    }
    const m = sampleRe.exec(line);
    if (!m) throw new Error(`line ${i + 1}: not a sample: ${line}`);
    const labels: Record<string, string> = {};
    if (m[3]) {
      labelRe.lastIndex = 0;
      while (labelRe.lastIndex < m[3].length) {
        const l = labelRe.exec(m[3]);
        if (!l) throw new Error(`line ${i + 1}: bad labels: ${m[3]}`);
        labels[l[1]] = l[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
      }
    }
    const value = m[4] === '+Inf' ? Infinity : m[4] === '-Inf' ? -Infinity : Number(m[4]);
    if (Number.isNaN(value) && m[4] !== 'NaN') throw new Error(`line ${i + 1}: bad value ${m[4]}`);
    const family = [m[1], m[1].replace(/_(bucket|sum|count)$/, '')].find((n) => types.has(n));
    if (!family) throw new Error(`line ${i + 1}: sample ${m[1]} has no # TYPE`);
    samples.push({ name: m[1], labels, value });
  }
  return { types, samples };
}
