import { createPublicKey, randomBytes, verify } from 'node:crypto';
import { once } from 'node:events';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { Aedes, type Client } from 'aedes';
import { EC_SIGNING_ALGORITHM, generateKeyPair, privateKeyPem, x509 } from '../../shared/src/identity/x509.js';

/**
 * A stand-in for the master's side of enrolment, for the node's enrolment tests before (and
 * independently of) the real master: a CA made with @peculiar/x509, a real HTTP server answering
 * `POST /enrol` and `POST /enrol/renew` in the wire format of security-spec.md, and, on request,
 * a real aedes broker over TLS that verifies client certificates against that CA (or id + secret)
 * and can revoke an identity. It is test scaffolding for the client, not a model of the master.
 */
export interface EnrolmentServer {
  url: string;
  /** `mqtts://127.0.0.1:<port>` when started with a broker. */
  brokerUrl?: string;
  caPem: string;
  /** A one-time token for `id` (expires after `ttlMs`). */
  addDevice(id: string, ttlMs?: number): string;
  /** Enrolments and renewals answered with a certificate. */
  readonly issued: { enrol: number; renew: number };
  /** The next `n` renewals answer HTTP 503. */
  failRenewals(n: number): void;
  /** Marks `id` revoked: its broker connections close, reconnects get CONNACK 5. */
  revoke(id: string): void;
  /** Closes `id`'s broker connection (it reconnects). */
  kick(id: string): void;
  /** Every connection the broker admitted: client id and the serial of its client certificate (if any). */
  readonly connections: { id: string; serial?: string }[];
  close(): Promise<void>;
}

export interface EnrolmentServerOptions {
  /** Lifetime of issued certificates. Default 30 days. */
  certLifetimeMs?: number;
  /** Start a TLS broker too; its URL is what enrolment names (brokers.tls). */
  broker?: boolean;
  /** `brokers` to answer with when there is no broker of our own. */
  brokers?: { tls?: string; plain?: string };
}

const DAY = 24 * 3600 * 1000;

export async function startEnrolmentServer(o: EnrolmentServerOptions = {}): Promise<EnrolmentServer> {
  const lifetime = o.certLifetimeMs ?? 30 * DAY;
  const caKeys = await generateKeyPair();
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    name: 'CN=Test Fabric CA', keys: caKeys, notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + 3650 * DAY),
    signingAlgorithm: EC_SIGNING_ALGORITHM, extensions: [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true)],
  });
  const caPem = ca.toString('pem');
  const issue = async (subject: string, publicKey: x509.PublicKey, extensions: x509.Extension[] = []) =>
    (await x509.X509CertificateGenerator.create({
      subject, issuer: ca.subject, publicKey, signingKey: caKeys.privateKey, notBefore: new Date(Date.now() - 1000), notAfter: new Date(Date.now() + lifetime),
      signingAlgorithm: EC_SIGNING_ALGORITHM, extensions,
    })).toString('pem');

  const tokens = new Map<string, { id: string; expiresAt: number; used: boolean }>();
  const secrets = new Map<string, string>();
  const revoked = new Set<string>();
  const issued = { enrol: 0, renew: 0 };
  let failing = 0;

  let broker: { url: string; revoke(id: string): void; close(): Promise<void> } | null = null;
  const connections: { id: string; serial?: string }[] = [];
  const brokers = () => (broker ? { tls: broker.url } : o.brokers ?? {});

  /** The CSR, verified, for `id`; a reason string when it is not acceptable. */
  const csrFor = async (pem: unknown, id: string): Promise<x509.Pkcs10CertificateRequest | string> => {
    if (typeof pem !== 'string') return 'no csr';
    const csr = new x509.Pkcs10CertificateRequest(pem);
    if (!(await csr.verify())) return 'csr signature invalid';
    if (csr.subject !== `CN=${id}`) return `csr is for ${csr.subject}, not CN=${id}`;
    return csr;
  };

  const routes: Record<string, (body: Record<string, unknown>) => Promise<[number, unknown]>> = {
    '/enrol': async ({ id, token, csr: csrPem }) => {
      const t = tokens.get(String(token));
      if (!t || t.used || t.expiresAt < Date.now() || t.id !== id) return [403, { error: 'enrolment token unknown, used, expired or for another id' }];
      const csr = await csrFor(csrPem, String(id));
      if (typeof csr === 'string') return [400, { error: csr }];
      t.used = true;
      const secret = randomBytes(32).toString('base64url');
      secrets.set(String(id), secret);
      const cert = await issue(csr.subject, csr.publicKey);
      issued.enrol++;
      return [200, { cert, ca: caPem, secret, signingKey: '', brokers: brokers(), certNotAfter: new x509.X509Certificate(cert).notAfter.toISOString() }];
    },
    '/enrol/renew': async ({ id, csr: csrPem, proof, cert: currentPem }) => {
      if (failing > 0) {
        failing--;
        return [503, { error: 'try later' }];
      }
      const current = new x509.X509Certificate(String(currentPem));
      if (!(await current.verify({ publicKey: await ca.publicKey.export() })) || current.subject !== `CN=${id}`) return [403, { error: 'certificate not ours' }];
      if (current.notAfter.getTime() < Date.now() || revoked.has(String(id))) return [403, { error: 'expired or revoked' }];
      const ok = verify('sha256', Buffer.from(String(csrPem)), createPublicKey(String(currentPem)), Buffer.from(String(proof), 'base64'));
      if (!ok) return [403, { error: 'proof does not match the current certificate' }];
      const csr = await csrFor(csrPem, String(id));
      if (typeof csr === 'string') return [400, { error: csr }];
      const cert = await issue(csr.subject, csr.publicKey);
      issued.renew++;
      return [200, { cert, ca: caPem, certNotAfter: new x509.X509Certificate(cert).notAfter.toISOString() }];
    },
  };

  const http: HttpServer = createHttpServer((req, res) => {
    void (async () => {
      const route = req.method === 'POST' ? routes[req.url ?? ''] : undefined;
      const [status, body] = route ? await route(JSON.parse(await readBody(req)) as Record<string, unknown>).catch((err: Error) => [400, { error: err.message }] as [number, unknown]) : [404, { error: 'not found' }];
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    })();
  });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');

  if (o.broker) {
    const serverKeys = await generateKeyPair();
    const serverCert = await issue('CN=127.0.0.1', serverKeys.publicKey as unknown as x509.PublicKey, [
      new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: '127.0.0.1' }, { type: 'dns', value: 'localhost' }]),
    ]);
    broker = await startTlsBroker({ key: await privateKeyPem(serverKeys), cert: serverCert, ca: caPem }, secrets, revoked, connections);
  }

  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
    brokerUrl: broker?.url,
    caPem,
    issued,
    addDevice(id, ttlMs = DAY) {
      const token = randomBytes(16).toString('base64url');
      tokens.set(token, { id, expiresAt: Date.now() + ttlMs, used: false });
      return token;
    },
    failRenewals: (n) => (failing = n),
    connections,
    kick: (id) => broker?.revoke(id),
    revoke(id) {
      revoked.add(id);
      broker?.revoke(id);
    },
    async close() {
      await broker?.close();
      http.closeAllConnections();
      await new Promise<void>((r) => http.close(() => r()));
    },
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  let s = '';
  for await (const chunk of req) s += String(chunk);
  return s;
}

/** aedes over TLS: a client certificate of the CA whose CN is the client id, or id + secret; revoked ids refused (CONNACK 5). */
async function startTlsBroker(tls: { key: string; cert: string; ca: string }, secrets: Map<string, string>, revoked: Set<string>, connections: { id: string; serial?: string }[]) {
  const refuse = (done: (err: Error | null, ok: boolean) => void) => done(Object.assign(new Error('not authorized'), { returnCode: 5 }) as Error, false);
  const aedes = await Aedes.createBroker({
    authenticate(client: Client, username: string | undefined, password: Buffer | undefined, done: (err: Error | null, ok: boolean) => void) {
      if (revoked.has(client.id)) return refuse(done);
      const peer = (client.conn as unknown as TLSSocket).getPeerCertificate?.();
      const byCert = peer?.subject?.CN === client.id && (client.conn as unknown as TLSSocket).authorized;
      const bySecret = username === client.id && password !== undefined && secrets.get(client.id) === password.toString();
      if (!byCert && !bySecret) return refuse(done);
      connections.push({ id: client.id, ...(byCert ? { serial: peer.serialNumber } : {}) });
      done(null, true);
    },
  } as Parameters<typeof Aedes.createBroker>[0]);
  const sockets = new Set<TLSSocket>();
  const server: TlsServer = createTlsServer({ ...tls, requestCert: true, rejectUnauthorized: false }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    aedes.handle(socket as never);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `mqtts://127.0.0.1:${(server.address() as AddressInfo).port}`,
    /** Closes `id`'s connection (revocation also refuses its reconnects, in `authenticate`). */
    revoke(id: string) {
      (aedes as unknown as { clients: Record<string, Client> }).clients[id]?.close();
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      await new Promise<void>((r) => aedes.close(() => r()));
    },
  };
}
