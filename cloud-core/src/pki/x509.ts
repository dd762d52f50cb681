/**
 * The one place that prepares @peculiar/x509 for use: it needs the `reflect-metadata` polyfill
 * loaded before it, and a WebCrypto provider (Node's own). Every module of the master's PKI
 * imports `x509` from here, never from the package, so the setup runs exactly once and first.
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export { x509 };
