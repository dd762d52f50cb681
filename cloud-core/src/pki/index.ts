export {
  CERT_ROLES, CertError, principalOf, verifyCsr, type CertPrincipal, type CertRole,
} from './certificates.js';
export { Pki, defaultTlsNames, pkiPaths } from './pki-store.js';
