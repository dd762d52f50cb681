/**
 * Loaded into the agent binary by `npm run bench:agent` (NODE_OPTIONS=--require <this file>; a
 * single executable honours NODE_OPTIONS): every second, writes where the process's memory is by
 * V8's and Node's own account (process.memoryUsage, V8 heap spaces, code statistics) to the file
 * named by TRIBUTARY_MEMORY_PROBE. Never part of the binary itself.
 */
'use strict';
const { writeFileSync } = require('node:fs');
const v8 = require('node:v8');

const out = process.env.TRIBUTARY_MEMORY_PROBE;
if (out) {
  setInterval(() => {
    const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, { used: s.space_used_size, size: s.space_size }]));
    writeFileSync(out, JSON.stringify({ memoryUsage: process.memoryUsage(), spaces, code: v8.getHeapCodeStatistics() }));
  }, 1000).unref();
}
