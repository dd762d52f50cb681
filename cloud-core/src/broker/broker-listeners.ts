import type { Buffer } from 'node:buffer';
import type { Server, Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { ConfigError } from '@tributary/shared';
import { isLoopbackHost } from '@tributary/shared/identity';

/**
 * The embedded broker's listeners (called by embedded-broker.ts): the plain TCP one, loopback
 * only unless allowed, and MQTT over TLS with client certificates verified against the fabric CA.
 */

/** The MQTT-over-TLS listener (issue 13). PEM texts, as read from `<master data>/pki/`. */
export interface BrokerTlsOptions {
  /** TCP port; 0 picks an ephemeral one (read it back from `tlsPort`). Default 8883. */
  port?: number;
  /** Interface to listen on. Default loopback. TLS may listen on any interface. */
  host?: string;
  /** The broker's server key and certificate (server.key, server.crt). */
  key: string | Buffer;
  cert: string | Buffer;
  /** The fabric CA (ca.crt): client certificates must chain to it. */
  ca: string | Buffer;
}

/**
 * Throws a ConfigError when the plain listener would be reachable from other machines without
 * `allowPlainOnAnyHost` (`--allow-plain-mqtt`): credentials and frames would cross the network
 * in clear text.
 */
export function assertPlainHostAllowed(host: string, allowPlainOnAnyHost: boolean | undefined): void {
  if (allowPlainOnAnyHost || isLoopbackHost(host)) return;
  throw new ConfigError(
    `Plain (unencrypted) MQTT may only listen on loopback, not ${JSON.stringify(host)}: use the TLS listener ` +
      'for other machines, or allow it explicitly (--allow-plain-mqtt / allowPlainOnAnyHost)',
  );
}

/** Listens on `host:port`; resolves with the bound port (0 = ephemeral). */
export async function listen(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  const address = server.address();
  return typeof address === 'object' && address ? address.port : port;
}

/** Why a TLS connection was refused before MQTT: counted as reason `tls` by the broker. */
export interface TlsRefusal {
  remote?: string;
  /** OpenSSL/Node code: e.g. UNABLE_TO_VERIFY_LEAF_SIGNATURE, CERT_HAS_EXPIRED, ECONNRESET. */
  error: string;
  /** Subject CN of an unverified client certificate, when one was presented. */
  subject?: string;
}

/**
 * The TLS server: `onSecure` gets every connection whose handshake succeeded and whose client
 * certificate, if it presented one, chains to `tls.ca` (not expired). Clients without a
 * certificate are let through to MQTT, where they need a username/password. A certificate that
 * does not verify, or a failed handshake (`tlsClientError`), goes to `onRefused`, socket closed.
 * (`rejectUnauthorized: true` would also refuse password clients, which send no certificate.)
 * `onRaw` sees every TCP connection first, so the broker can close half-done handshakes too.
 */
export function createBrokerTlsServer(
  tls: BrokerTlsOptions,
  onSecure: (socket: TLSSocket) => void,
  onRefused: (refusal: TlsRefusal) => void,
  onRaw: (socket: Socket) => void,
): TlsServer {
  const server = createTlsServer({
    key: tls.key, cert: tls.cert, ca: tls.ca, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2',
  });
  server.on('connection', onRaw);
  server.on('secureConnection', (socket: TLSSocket) => {
    const peer = socket.getPeerCertificate();
    const presented = peer !== null && typeof peer === 'object' && Object.keys(peer).length > 0;
    if (presented && !socket.authorized) {
      onRefused({ remote: socket.remoteAddress, error: String(socket.authorizationError), subject: [peer.subject?.CN ?? []].flat().join(',') || undefined });
      socket.destroy();
      return;
    }
    onSecure(socket);
  });
  server.on('tlsClientError', (err: Error & { code?: string }, socket: TLSSocket) => {
    onRefused({ remote: socket.remoteAddress, error: err.code ?? err.message });
    socket.destroy();
  });
  return server;
}
