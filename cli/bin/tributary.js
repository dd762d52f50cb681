#!/usr/bin/env node
// Registers tsx so the CLI and the applications it loads can be TypeScript, then hands over.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
