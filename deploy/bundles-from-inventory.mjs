#!/usr/bin/env node
/**
 * Per-device offline install bundles from an inventory, for operators who push with their own
 * tools (ssh, Ansible): deploy/README.md, "Put it on devices". For each device of the inventory
 * (deploy/inventory.example.json) it runs `tributary fleet bundle`, then writes next to the bundles:
 *   manifest.json   one entry per device: id, host, ssh, arch, labels, bundle, token expiry
 *   hosts.ini       an Ansible inventory (group `tributary`) for deploy/push-bundles.example.yml
 *   push.sh         the same with plain scp + ssh, one device after the other
 * Each agent binary is downloaded from the master once per architecture (checked against its
 * SHA-256; its signature is checked by `fleet bundle`), not once per device.
 *
 *   node deploy/bundles-from-inventory.mjs deploy/inventory.example.json --out bundles/ \
 *     [--master <REST API url>] [--token <admin token>] [--master-key <pem>] [--ca <pem>] [--version <v>] \
 *     [--binary-x64 <file>] [--binary-arm64 <file>] [--only id,id] [--skip-existing]
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const cli = process.env.TRIBUTARY_CLI ?? join(here, '../cli/bin/tributary.js');
const ID = /^[A-Za-z0-9_.-]{1,64}$/;
const HOST = /^[A-Za-z0-9_.:-]+$/;
const USER = /^[A-Za-z0-9_.-]+$/;

const { values: o, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    out: { type: 'string' },
    master: { type: 'string', default: process.env.TRIBUTARY_MASTER_URL ?? 'http://127.0.0.1:8080' },
    token: { type: 'string', default: process.env.TRIBUTARY_TOKEN },
    'master-key': { type: 'string' },
    ca: { type: 'string' },
    version: { type: 'string', default: 'latest' },
    'binary-x64': { type: 'string' },
    'binary-arm64': { type: 'string' },
    only: { type: 'string' },
    'skip-existing': { type: 'boolean', default: false },
  },
});
if (positionals.length !== 1 || !o.out) fail('usage: bundles-from-inventory.mjs <inventory.json> --out <dir> [--master <url>] [--token <admin token>] [--master-key <pem>] [--ca <pem>] [--version <v>] [--binary-x64|--binary-arm64 <file>] [--only id,id] [--skip-existing]');

const inventory = JSON.parse(await readFile(positionals[0], 'utf8'));
const defaults = inventory.defaults ?? {};
const only = o.only ? new Set(o.only.split(',')) : undefined;
const devices = (inventory.devices ?? []).filter((d) => !only || only.has(d.id)).map((d) => {
  const dev = {
    id: d.id, host: d.host ?? d.id, arch: d.arch ?? defaults.arch ?? 'x64',
    labels: { ...defaults.labels, ...d.labels }, ttl: d.ttl ?? defaults.ttl, enrolToken: d.enrolToken,
    ssh: { user: 'root', port: 22, ...defaults.ssh, ...d.ssh },
  };
  if (!ID.test(String(dev.id))) fail(`inventory: device id ${JSON.stringify(d.id)}: ids are 1-64 letters, digits, _ . -`);
  if (!HOST.test(dev.host) || !USER.test(dev.ssh.user) || !Number.isInteger(Number(dev.ssh.port))) fail(`inventory: device ${dev.id}: bad host or ssh settings`);
  if (!['x64', 'arm64'].includes(dev.arch)) fail(`inventory: device ${dev.id}: arch ${dev.arch} (x64 or arm64)`);
  return dev;
});
if (!inventory.master) fail('inventory: "master" (the URL devices reach the master at) is missing');
const out = resolve(o.out);
await mkdir(out, { recursive: true });

// One binary per architecture: given, or downloaded once and checked against the master's SHA-256.
const binaries = {};
for (const arch of new Set(devices.map((d) => d.arch))) {
  binaries[arch] = o[`binary-${arch}`] ?? (await download(arch));
}

const manifest = [];
for (const d of devices) {
  const bundle = join(out, `${d.id}.tar.gz`);
  if (o['skip-existing'] && existsSync(bundle)) {
    process.stdout.write(`${d.id}: ${bundle} exists, skipped\n`);
  } else {
    const args = ['fleet', 'bundle', '--id', d.id, '--arch', d.arch, '--master', o.master, '--device-master', inventory.master, '--binary', binaries[d.arch], '--out', bundle,
      ...Object.entries(d.labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]),
      ...(d.enrolToken ? ['--enrol-token', d.enrolToken] : []), ...(d.ttl ? ['--ttl', String(d.ttl)] : []),
      ...(o['master-key'] ? ['--master-key', o['master-key']] : []), ...(o.ca ? ['--ca', o.ca] : []), ...(o.token ? ['--token', o.token] : [])];
    const r = await exec(process.execPath, [cli, ...args]);
    if (r.code !== 0) fail(`${d.id}: ${r.stderr.trim() || r.stdout.trim()}`);
    process.stdout.write(`${d.id}: ${r.stdout.trim()}\n`);
  }
  manifest.push({ id: d.id, host: d.host, ssh: d.ssh, arch: d.arch, labels: d.labels, bundle: `${d.id}.tar.gz` });
}

await writeFile(join(out, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
await writeFile(join(out, 'hosts.ini'), ['[tributary]', ...manifest.map((m) => `${m.id} ansible_host=${m.host} ansible_port=${m.ssh.port} ansible_user=${m.ssh.user} tributary_bundle=${m.bundle}`), ''].join('\n'));
await writeFile(join(out, 'push.sh'), [
  '#!/bin/sh',
  '# Copies each device its bundle and installs it (needs root there). Generated by deploy/bundles-from-inventory.mjs.',
  'set -eu',
  'cd "$(dirname "$0")"',
  ...manifest.map((m) => `scp -P ${m.ssh.port} ${m.bundle} ${m.ssh.user}@${m.host}:/tmp/${m.bundle} && ssh -p ${m.ssh.port} ${m.ssh.user}@${m.host} 'cd /tmp && tar -xzf ${m.bundle} && ./tributary-${m.id}/install && rm -rf ${m.bundle} tributary-${m.id}'`),
  '',
].join('\n'), { mode: 0o755 });
process.stdout.write(`${manifest.length} device(s): bundles, manifest.json, hosts.ini and push.sh in ${out}\n`);

async function download(arch) {
  const dir = join(out, '.agent', arch);
  await mkdir(dir, { recursive: true });
  const base = `${o.master.replace(/\/+$/, '')}/agent/${encodeURIComponent(o.version)}/linux-${arch}`;
  const headers = o.token ? { authorization: `Bearer ${o.token}` } : {};
  const get = async (url) => {
    const res = await fetch(url, { headers }).catch((err) => fail(`cannot reach the master at ${o.master}: ${err.message}`));
    return res.ok ? Buffer.from(await res.arrayBuffer()) : res.status === 404 ? undefined : fail(`GET ${url}: ${res.status}`);
  };
  const [bin, sha, sig] = await Promise.all([get(base), get(`${base}.sha256`), get(`${base}.sig`)]);
  if (!bin || !sha) fail(`the master has no agent binary ${o.version} for linux-${arch}: pass --binary-${arch} <file>`);
  if (createHash('sha256').update(bin).digest('hex') !== sha.toString().split(/\s/)[0]) fail(`${base}: does not match its SHA-256`);
  const file = join(dir, 'tributary-agent');
  await writeFile(file, bin, { mode: 0o755 });
  if (sig) await writeFile(`${file}.sig`, sig);
  else await rm(`${file}.sig`, { force: true });
  return file;
}

function exec(cmd, args) {
  return new Promise((res) => execFile(cmd, args, { maxBuffer: 16 << 20 }, (err, stdout, stderr) => res({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr })));
}

function fail(message) {
  process.stderr.write(`bundles-from-inventory: ${message}\n`);
  process.exit(1);
}
