// Worker threads on Node 20 do not inherit the parent's TypeScript loader (see app-thread-entry.mjs).
import { register } from 'tsx/esm/api';

register();
await import('./plan-thread.ts');
