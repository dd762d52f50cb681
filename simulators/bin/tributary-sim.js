#!/usr/bin/env node
// Registers tsx so the simulators can stay TypeScript, then hands over.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli.ts');
