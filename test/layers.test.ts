/**
 * The dependency rule between layers (docs/architecture.md): a layer imports only the layers
 * below it, the agent never reaches cloud-core and cloud-core never reaches the agent, and no
 * module imports itself back through others. Read from the sources, so a new import that breaks
 * the rule fails here before anyone depends on it.
 */
import test from 'ava';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const SHARED = join(ROOT, 'shared/src');

/** Which shared layers each layer may import (itself included). */
const ALLOWED: Record<string, readonly string[]> = {
  api: ['api'],
  log: ['log', 'api'],
  wire: ['wire', 'api'],
  config: ['config', 'api'],
  store: ['store', 'api', 'wire', 'log'],
  mqtt: ['mqtt', 'api', 'wire', 'log'],
  connectors: ['connectors', 'api', 'wire', 'mqtt', 'log'],
  runtime: ['runtime', 'api', 'wire', 'store', 'log'],
  identity: ['identity', 'api', 'log', 'wire'],
  node: ['node', 'api', 'wire', 'store', 'mqtt', 'connectors', 'runtime', 'log', 'config', 'identity'],
};

/** npm packages a layer may load; node: built-ins are free except where a layer is pure. */
const PACKAGES: Record<string, readonly string[]> = {
  api: [],
  log: ['pino'],
  wire: ['cbor-x', 'zod'],
  config: ['zod'],
  store: ['level'],
  mqtt: ['mqtt'],
  connectors: ['mqtt', 'pg'],
  runtime: [],
  identity: ['@peculiar/x509', 'reflect-metadata'],
  node: [],
};
/**
 * Development only: the bootstrap that lets a worker thread run the TypeScript sources (tests);
 * compiled nodes start threads from cli/dist/app-thread.mjs instead.
 */
const DEV_BOOTSTRAPS: Record<string, string> = { 'shared/src/node/app-thread-entry.mjs': 'tsx', 'shared/src/node/plan-thread-entry.mjs': 'tsx' };
/** The API is pure: timers are its only contact with the outside. */
const API_BUILTINS = ['node:timers/promises'];

interface Import { spec: string; typeOnly: boolean }

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (/\.(ts|mts|mjs)$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

function importsOf(file: string): Import[] {
  const src = readFileSync(file, 'utf8');
  const out: Import[] = [];
  for (const m of src.matchAll(/^\s*(import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?'([^']+)'/gm)) out.push({ spec: m[3], typeOnly: Boolean(m[2]) });
  for (const m of src.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)) out.push({ spec: m[1], typeOnly: false });
  return out;
}

const WORKSPACES: Record<string, string> = {
  '@tributary/shared': 'shared/src/index.ts',
  '@tributary/shared/api': 'shared/src/api/index.ts',
  '@tributary/shared/store': 'shared/src/store/index.ts',
  '@tributary/shared/identity': 'shared/src/identity/index.ts',
  '@tributary/edge-agent': 'edge-agent/src/index.ts',
  '@tributary/cloud-core': 'cloud-core/src/index.ts',
  '@tributary/simulators': 'simulators/src/index.ts',
  tributary: 'cli/src/index.ts',
};

/** The file an import resolves to inside the repository, or null for an npm package or built-in. */
function resolveImport(from: string, spec: string): string | null {
  if (spec.startsWith('.')) {
    const abs = resolve(dirname(from), spec);
    for (const c of [abs, abs.replace(/\.js$/, '.ts'), abs.replace(/\.mjs$/, '.mts')]) if (existsSync(c) && !c.endsWith('/')) return c;
    return null;
  }
  const ws = WORKSPACES[spec];
  return ws ? join(ROOT, ws) : null;
}

const layerOf = (file: string): string | null => {
  const rel = relative(SHARED, file);
  if (rel.startsWith('..')) return null;
  const first = rel.split('/')[0];
  return first.endsWith('.ts') ? 'root' : first;
};

const sharedFiles = sourceFiles(SHARED);

test('every file under shared/src belongs to a known layer', (t) => {
  const unknown = sharedFiles.map(layerOf).filter((l) => l !== 'root' && !(l! in ALLOWED));
  t.deepEqual([...new Set(unknown)], []);
});

test('each layer imports only the layers below it, and only its own npm packages', (t) => {
  const violations: string[] = [];
  for (const file of sharedFiles) {
    const layer = layerOf(file)!;
    if (layer === 'root') continue;
    for (const { spec } of importsOf(file)) {
      const target = resolveImport(file, spec);
      const where = `${relative(ROOT, file)} imports '${spec}'`;
      if (target) {
        const to = layerOf(target);
        if (to === null || to === 'root') violations.push(`${where}: outside its layer's reach`);
        else if (!ALLOWED[layer].includes(to)) violations.push(`${where}: ${layer} may not use ${to}`);
      } else if (spec.startsWith('node:')) {
        if (layer === 'api' && !API_BUILTINS.includes(spec)) violations.push(`${where}: the API does no I/O`);
      } else if (!spec.startsWith('.')) {
        const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
        if (!PACKAGES[layer].includes(pkg) && DEV_BOOTSTRAPS[relative(ROOT, file)] !== pkg) violations.push(`${where}: ${layer} may not load the package ${pkg}`);
      }
    }
  }
  t.deepEqual(violations, []);
});

/** Every repository file reachable from `entry` through imports (type-only ones too). */
function reachable(entry: string): Set<string> {
  const seen = new Set<string>();
  const stack = [entry];
  while (stack.length > 0) {
    const f = stack.pop()!;
    if (seen.has(f)) continue;
    seen.add(f);
    for (const { spec } of importsOf(f)) {
      const target = resolveImport(f, spec);
      if (target && !seen.has(target)) stack.push(target);
    }
  }
  return seen;
}

test("the agent's entry never reaches cloud-core, and cloud-core never reaches the agent", (t) => {
  const agentEntries = sourceFiles(join(ROOT, 'edge-agent/src'));
  const fromAgent = new Set(agentEntries.flatMap((e) => [...reachable(e)]));
  t.deepEqual([...fromAgent].filter((f) => f.startsWith(join(ROOT, 'cloud-core'))).map((f) => relative(ROOT, f)), []);
  t.true(fromAgent.has(join(SHARED, 'runtime/app-runtime.ts')), 'the agent hosts the runtime');
  const fromCloud = new Set(sourceFiles(join(ROOT, 'cloud-core/src')).flatMap((e) => [...reachable(e)]));
  t.deepEqual([...fromCloud].filter((f) => f.startsWith(join(ROOT, 'edge-agent'))).map((f) => relative(ROOT, f)), []);
});

test('no import cycles between modules, nor between the folders of a layer', (t) => {
  const files = [...sharedFiles, ...sourceFiles(join(ROOT, 'edge-agent/src')), ...sourceFiles(join(ROOT, 'cloud-core/src'))];
  const edges = new Map<string, string[]>();
  for (const f of files) edges.set(f, importsOf(f).map((i) => resolveImport(f, i.spec)).filter((x): x is string => x !== null));
  t.deepEqual(cycles(edges).map((c) => c.map((f) => relative(ROOT, f))), [], 'module cycles');
  // Folders: api/dsl -> api/dag is fine; api/dag -> api/dsl as well would be a cycle.
  const folderOf = (f: string) => relative(ROOT, dirname(f));
  const folders = new Map<string, string[]>();
  // Between folders, value imports count (a type shared both ways is no load-order hazard).
  for (const f of files) {
    if (f.endsWith('/index.ts')) continue; // barrels re-export, they are no dependency
    const from = folderOf(f);
    const list = folders.get(from) ?? [];
    for (const i of importsOf(f)) {
      const to = i.typeOnly ? null : resolveImport(f, i.spec);
      if (to && folderOf(to) !== from && !to.endsWith('/index.ts')) list.push(folderOf(to));
    }
    folders.set(from, list);
  }
  t.deepEqual(cycles(folders), [], 'folder cycles');
});

/** Strongly connected components with more than one member (Tarjan). */
function cycles(edges: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>(), low = new Map<string, number>(), onStack = new Set<string>(), stack: string[] = [], out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index); low.set(v, index); index++; stack.push(v); onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!idx.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); }
      else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do { w = stack.pop()!; onStack.delete(w); comp.push(w); } while (w !== v);
      if (comp.length > 1) out.push(comp.sort());
    }
  };
  for (const v of edges.keys()) if (!idx.has(v)) visit(v);
  return out;
}
