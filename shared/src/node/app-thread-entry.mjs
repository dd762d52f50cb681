// Worker threads on Node 20 do not inherit the parent's TypeScript loader, and reject a .ts entry
// before any --import hook runs: this plain module registers tsx, then loads the real entry.
import { register } from 'tsx/esm/api';

register();
await import('./app-thread.ts');
