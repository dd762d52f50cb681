import { chmod, copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { mosquittoAclFor } from '@tributary/shared';
import type { Pki } from './pki-store.js';

export interface MosquittoConfigOptions {
  /** TLS listener port. Default 8883. */
  port?: number;
  /** Interface to bind; default every interface. */
  host?: string;
}

/**
 * The ACL for a Mosquitto that authenticates by certificate (`use_identity_as_username`): topics.ts
 * `mosquittoAclFor()` with rights bound to the username (`%u` = the certificate's CN, which the
 * client cannot choose) rather than the client id (`%c`, which it can). Connector clients of a
 * node (`<id>.sink.3`) thereby get their node's rights, as on the embedded broker.
 */
export function mosquittoCertAcl(): string {
  return mosquittoAclFor({ identity: 'username' });
}

/**
 * `tributary certs mosquitto`: writes into `outDir` a Mosquitto 2 configuration for an external
 * broker of this fabric: mosquitto.conf (one TLS listener, client certificates required and
 * verified against the fabric CA, the certificate's CN as username, no anonymous clients),
 * acl (the topic ACL), and copies of ca.crt, server.crt, server.key (0600: give it to the user
 * Mosquitto runs as). Returns the path of mosquitto.conf. Devices that cannot use certificates
 * would need a password_file instead (the per-device secret); not generated here.
 */
export async function writeMosquittoConfig(pki: Pki, outDir: string, options: MosquittoConfigOptions = {}): Promise<string> {
  const dir = resolve(outDir);
  await mkdir(dir, { recursive: true });
  const p = pki.paths;
  const files = { ca: join(dir, 'ca.crt'), cert: join(dir, 'server.crt'), key: join(dir, 'server.key'), acl: join(dir, 'acl'), conf: join(dir, 'mosquitto.conf') };
  await copyFile(p.caCert, files.ca);
  await copyFile(p.serverCert, files.cert);
  await copyFile(p.serverKey, files.key);
  await chmod(files.key, 0o600);
  await writeFile(files.acl, mosquittoCertAcl(), { mode: 0o644 });
  const lines = [
    '# Mosquitto 2 configuration for a Tributary fabric, written by `tributary certs mosquitto`.',
    '# Clients authenticate with certificates issued by the fabric CA (enrolment); the CN is the',
    '# username, and the ACL binds every topic right to it.',
    'per_listener_settings false',
    'allow_anonymous false',
    `listener ${options.port ?? 8883}${options.host ? ` ${options.host}` : ''}`,
    `cafile ${files.ca}`,
    `certfile ${files.cert}`,
    `keyfile ${files.key}`,
    'tls_version tlsv1.2',
    'require_certificate true',
    'use_identity_as_username true',
    `acl_file ${files.acl}`,
  ];
  await writeFile(files.conf, lines.join('\n') + '\n', { mode: 0o644 });
  return files.conf;
}
