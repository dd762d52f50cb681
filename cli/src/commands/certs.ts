import { Option, type Command } from 'commander';
import { join } from 'node:path';
import { collect } from '@tributary/edge-agent/node-options';

const DEFAULT_DATA = '.data/master';

/**
 * `tributary certs`: the master's PKI without starting a master. `init` creates (or completes)
 * `<data>/pki/` exactly as a master's first start would; `mosquitto` writes the configuration of
 * an external Mosquitto that authenticates the fabric's certificates and enforces its topic ACL.
 */
export function registerCerts(program: Command): void {
  const certs = program.command('certs').description('the fabric\'s certificate authority and certificates (<master data>/pki)');

  certs
    .command('init')
    .description('create the CA, the broker\'s server certificate, the master\'s certificate and signing key (idempotent: existing files are kept)')
    .option('--data <dir>', `the master's data directory (env TRIBUTARY_DATA); default ${DEFAULT_DATA}`)
    .addOption(new Option('--tls-name <name>', 'a DNS name or address for the broker\'s certificate (repeatable)').argParser(collect))
    .action(async (o: { data?: string; tlsName?: string[] }) => {
      const { Pki } = await import('@tributary/cloud-core');
      const pki = await Pki.loadOrCreate(join(dataDir(o.data), 'pki'), { tlsNames: o.tlsName ?? [] });
      process.stdout.write(`PKI ready in ${pki.dir}\n`);
      process.stdout.write(`  CA        ${pki.paths.caCert}  (SHA-256 ${pki.caCert.fingerprint256})\n`);
      process.stdout.write(`  broker    ${pki.paths.serverCert}  (${new (await import('node:crypto')).X509Certificate(pki.serverCertPem).subjectAltName})\n`);
      process.stdout.write(`  master    ${pki.paths.masterCert}\n`);
      process.stdout.write(`  signing   ${pki.paths.signingPub}\n`);
    });

  certs
    .command('mosquitto')
    .description('write a Mosquitto 2 configuration (TLS listener, client certificates as identity, the topic ACL) into --out')
    .option('--data <dir>', `the master's data directory (env TRIBUTARY_DATA); default ${DEFAULT_DATA}`)
    .requiredOption('--out <dir>', 'where to write mosquitto.conf, acl and the certificate files')
    .option('--port <port>', 'TLS listener port', '8883')
    .option('--host <host>', 'interface to bind; default every interface')
    .addOption(new Option('--tls-name <name>', 'a DNS name or address for the broker\'s certificate (repeatable)').argParser(collect))
    .action(async (o: { data?: string; out: string; port: string; host?: string; tlsName?: string[] }) => {
      const port = Number(o.port);
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw new TypeError(`--port: expected 1-65535, got ${JSON.stringify(o.port)}`);
      const { Pki, writeMosquittoConfig } = await import('@tributary/cloud-core');
      const pki = await Pki.loadOrCreate(join(dataDir(o.data), 'pki'), { tlsNames: o.tlsName ?? [] });
      const conf = await writeMosquittoConfig(pki, o.out, { port, ...(o.host ? { host: o.host } : {}) });
      process.stdout.write(`wrote ${conf}\nrun: mosquitto -c ${conf}   (server.key is 0600: make it readable by the user Mosquitto runs as)\n`);
    });
}

function dataDir(flag: string | undefined): string {
  return flag ?? process.env.TRIBUTARY_DATA ?? DEFAULT_DATA;
}
