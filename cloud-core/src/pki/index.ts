export {
  CERT_ROLES, CertError, principalOf, verifyCsr, type CertPrincipal, type CertRole,
} from './certificates.js';
export { Pki, defaultTlsNames, pkiPaths } from './pki-store.js';
export { mosquittoCertAcl, writeMosquittoConfig, type MosquittoConfigOptions } from './mosquitto-config.js';
