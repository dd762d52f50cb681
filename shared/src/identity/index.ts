/**
 * Node identity (issue 13): enrolment, the identity files under `<data>/identity/`, renewal.
 * `@tributary/shared/identity`, apart from the main barrel: only worker and agent processes load
 * it (and @peculiar/x509 with it), not every command of the CLI.
 */
export { enrol, renew, type EnrolOptions } from './enrol-client.js';
export { identityDir, loadIdentity, writeIdentity, type BrokerUrls, type EnrolmentRecord, type IdentityFiles, type NodeIdentity, type NodeRole } from './identity-store.js';
export { IdentityRenewer, type IdentityClock, type IdentityRenewerOptions } from './identity-renewer.js';
export { credentialsFor, isLoopbackHost, isLoopbackUrl, isMasterApiUrl, resolveNodeConnection, startRenewal, type MqttCredentials, type NodeConnection, type NodeConnectionOptions } from './node-connection.js';
export { certificateInfo, createCsr, generateKeyPair, privateKeyPem, x509 } from './x509.js';
