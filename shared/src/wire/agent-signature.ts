/**
 * Signatures of agent binaries (issue 16, device install). The master signs the SHA-256 of each
 * binary it serves with its Ed25519 key (`<master data>/pki/signing.key`,
 * cloud-core/src/master/install-routes.ts); `tributary fleet bundle` and deploy/install.sh check it.
 * As for application bundles, what is signed is the hex digest behind a domain-separation prefix
 * of its own, so a signature over an agent binary is never valid for anything else the master
 * signs with the same key. install.sh rebuilds these bytes with
 * `printf 'tributary-agent-v1\000%s' <hex>` and checks them with `openssl pkeyutl -verify -rawin`.
 */
export const AGENT_SIGNATURE_DOMAIN = 'tributary-agent-v1\0';

/** The bytes the master signs for an agent binary whose SHA-256 (hex, lower case) is `sha256`. */
export function agentSigningPayload(sha256: string): Buffer {
  return Buffer.from(`${AGENT_SIGNATURE_DOMAIN}${sha256}`, 'utf8');
}

/**
 * Remote agent configurations (issue 16, `tributary fleet rollout config`): the master signs the
 * SHA-256 of the configuration's bytes (DesiredConfig.body) behind a prefix of their own.
 */
export const CONFIG_SIGNATURE_DOMAIN = 'tributary-config-v1\0';

/** The bytes the master signs for an agent configuration whose SHA-256 (hex, lower case) is `sha256`. */
export function configSigningPayload(sha256: string): Buffer {
  return Buffer.from(`${CONFIG_SIGNATURE_DOMAIN}${sha256}`, 'utf8');
}
