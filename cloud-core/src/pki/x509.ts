/**
 * @peculiar/x509, prepared once (reflect-metadata first, Node's WebCrypto as provider) by the
 * identity layer (shared/src/identity/x509.ts); the master's PKI uses that same set-up.
 */
export { x509 } from '@tributary/shared/identity';
