/**
 * A throwaway certificate authority for tests of TLS and broker authentication (ECDSA P-256, as
 * the fabric's own CA: /work/security-spec.md). Not the product's PKI (helper "pki" owns that):
 * only what a test needs to present real certificates over real TLS.
 */
import { webcrypto } from 'node:crypto';
import { x509 } from '@tributary/shared/identity';

const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY = 86_400_000;

/** A key and certificate, PEM. */
export interface TestCert {
  key: string;
  cert: string;
}

export interface TestCa {
  /** The CA certificate, PEM (what a verifier trusts). */
  cert: string;
  /** A TLS server certificate for localhost / 127.0.0.1 / ::1. */
  server(): Promise<TestCert>;
  /** A client certificate with subject CN=<cn> (and OU=<ou> when given). */
  client(cn: string, options?: { ou?: string; notBefore?: Date; notAfter?: Date }): Promise<TestCert>;
}

function pem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END ${label}-----\n`;
}

async function keyPem(key: CryptoKey): Promise<string> {
  return pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', key as webcrypto.CryptoKey));
}

/** Creates a new CA (its own key pair, self-signed, valid one day). */
export async function createTestCa(name = 'Tributary test CA'): Promise<TestCa> {
  const caKeys = (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as CryptoKeyPair;
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=${name}`,
    keys: caKeys,
    signingAlgorithm: SIGN,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + DAY),
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });

  const issue = async (subject: string, extensions: x509.Extension[], notBefore?: Date, notAfter?: Date): Promise<TestCert> => {
    const keys = (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as CryptoKeyPair;
    const cert = await x509.X509CertificateGenerator.create({
      subject,
      issuer: caCert.subject,
      publicKey: keys.publicKey,
      signingKey: caKeys.privateKey,
      signingAlgorithm: SIGN,
      notBefore: notBefore ?? new Date(Date.now() - DAY),
      notAfter: notAfter ?? new Date(Date.now() + DAY),
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
        ...extensions,
      ],
    });
    return { key: await keyPem(keys.privateKey), cert: cert.toString('pem') + '\n' };
  };

  return {
    cert: caCert.toString('pem') + '\n',
    server: () =>
      issue('CN=localhost', [
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension([
          { type: 'dns', value: 'localhost' },
          { type: 'ip', value: '127.0.0.1' },
          { type: 'ip', value: '::1' },
        ]),
      ]),
    client: (cn, options = {}) =>
      issue(options.ou ? `CN=${cn}, OU=${options.ou}` : `CN=${cn}`, [new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth])], options.notBefore, options.notAfter),
  };
}
