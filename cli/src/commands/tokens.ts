import type { Command } from 'commander';
import { callMaster } from '../submit.js';
import { masterTarget, withMasterClient } from './master-client.js';

interface TokenView {
  id: string;
  name: string;
  createdAt: number;
  lastUsedAt: number | null;
}

/** `tributary tokens list|create|revoke`: the master's admin tokens (REST /tokens). */
export function registerTokens(program: Command): void {
  const tokens = program.command('tokens').description("the master's admin tokens (REST API and dashboard)");

  withMasterClient(tokens.command('list').description('list admin tokens: id, name, created, last used (never the secret)'))
    .option('--json', 'print JSON')
    .action(async (o: { master: string; token?: string; config?: string; json?: boolean }) => {
      const list = (await callMaster(masterTarget(o), 'GET', '/tokens')) as TokenView[];
      if (o.json) return void process.stdout.write(JSON.stringify(list, null, 2) + '\n');
      for (const t of list) {
        const used = t.lastUsedAt === null ? 'never used' : `last used ${new Date(t.lastUsedAt).toISOString()}`;
        process.stdout.write(`${t.id}  ${t.name}  created ${new Date(t.createdAt).toISOString()}  ${used}\n`);
      }
    });

  withMasterClient(tokens.command('create').description('create an admin token; its secret is printed this once'))
    .option('--name <name>', 'what the token is for (shown by list)')
    .option('--json', 'print JSON')
    .action(async (o: { master: string; token?: string; config?: string; name?: string; json?: boolean }) => {
      const created = await callMaster(masterTarget(o), 'POST', '/tokens', o.name ? { name: o.name } : {});
      if (o.json) return void process.stdout.write(JSON.stringify(created, null, 2) + '\n');
      process.stdout.write(`${created.id}  ${created.name}\n${created.token}\n`);
      process.stderr.write('keep this token: it is shown only now (the master stores its hash)\n');
    });

  withMasterClient(tokens.command('revoke').description('revoke an admin token (its dashboard sessions end too)'))
    .argument('<id>', 'token id, from `tributary tokens list`')
    .action(async (id: string, o: { master: string; token?: string; config?: string }) => {
      await callMaster(masterTarget(o), 'DELETE', `/tokens/${encodeURIComponent(id)}`);
      process.stdout.write(`${id}: revoked\n`);
    });
}
