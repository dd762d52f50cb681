#!/usr/bin/env node
// Runs the compiled command (cli/dist, made by `npm run build`). Without a build, or with
// TRIBUTARY_DEV=1, it runs the TypeScript sources through tsx instead (development).
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/tributary.mjs', import.meta.url);
if (existsSync(compiled) && process.env.TRIBUTARY_DEV !== '1') {
  await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/main.ts');
}
