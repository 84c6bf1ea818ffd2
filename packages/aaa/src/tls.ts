import * as fs from 'node:fs';
import * as tls from 'node:tls';
import type { Socket } from 'node:net';
import {
  AuthenticationError,
  ConfigError,
  type LinkFrame,
  type LinkRole,
  type LinkSecurity,
  type SecuredLink,
} from '@vcl/core';
import { readSecretFile } from './key-file';

/** Options of `tlsLinkSecurity`. */
export interface TlsLinkOptions {
  /** PEM file of the CA(s) whose certificates are trusted; a certificate from any other CA is refused. Required. */
  readonly ca: string;
  /** PEM file of this member's certificate. Required. */
  readonly cert: string;
  /** PEM file of this member's private key (mode 0600 or stricter). Required. */
  readonly key: string;
  /**
   * Certificate identity (subject CN or a SAN DNS name) -> member id. Default: none, so the
   * identity itself must be the member id.
   */
  readonly identities?: Readonly<Record<string, string>>;
}

/** The PEM material of `TlsLinkOptions`, read and checked. */
interface TlsMaterial {
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** Reads the CA, certificate and key files named by `options` (`path` prefixes option names in errors). */
export function readTlsMaterial(options: { ca?: string; cert?: string; key?: string }, path: string): TlsMaterial {
  const missing = (['ca', 'cert', 'key'] as const).filter((f) => !options[f]);
  if (missing.length)
    throw new ConfigError(
      'aaa',
      missing.map((f) => ({ path: `${path}.${f}`, message: 'missing; mutual TLS needs ca, cert and key' })),
    );
  const read = (f: 'ca' | 'cert'): Buffer => {
    try {
      return fs.readFileSync(options[f]!);
    } catch (e) {
      throw new ConfigError(
        'aaa',
        [{ path: `${path}.${f}`, message: `cannot read ${options[f]}: ${(e as Error).message}` }],
        {
          cause: e,
        },
      );
    }
  };
  return { ca: read('ca'), cert: read('cert'), key: readSecretFile(options.key!, `${path}.key`) };
}

/** The identities a peer certificate proves: its subject CN, then its SAN DNS names. */
export function certificateIdentities(cert: tls.PeerCertificate): string[] {
  const ids: string[] = [];
  const cn = cert.subject?.CN;
  if (typeof cn === 'string') ids.push(cn);
  else if (Array.isArray(cn)) ids.push(...(cn as string[]));
  for (const part of (cert.subjectaltname ?? '').split(',')) {
    const m = /^\s*DNS:(.+)$/.exec(part);
    if (m) ids.push(m[1]!.trim());
  }
  return [...new Set(ids)];
}

/**
 * Wraps `socket` in mutual TLS: both ends present a certificate signed by a trusted CA. Resolves
 * with the secure socket and the peer's identities; rejects with `AuthenticationError` otherwise.
 */
export async function secureWithTls(
  material: TlsMaterial,
  socket: Socket,
  role: LinkRole,
  signal: AbortSignal,
): Promise<{ socket: tls.TLSSocket; identities: string[] }> {
  const secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    const fail = (e: Error): void =>
      reject(new AuthenticationError(`TLS handshake failed: ${e.message}`, { cause: e }));
    if (role === 'dialer') {
      // Member links are dialled by address; identity is checked from the certificate below.
      const client = tls.connect({ socket, ...material, checkServerIdentity: () => undefined });
      client.once('secureConnect', () => resolve(client));
      client.once('error', fail);
      return;
    }
    const server = tls.createServer({ ...material, requestCert: true, rejectUnauthorized: true });
    server.once('secureConnection', resolve);
    server.once('tlsClientError', fail);
    server.emit('connection', socket);
  });
  if (!secure.authorized) {
    secure.destroy();
    throw new AuthenticationError(`untrusted certificate: ${String(secure.authorizationError)}`);
  }
  return { socket: secure, identities: certificateIdentities(secure.getPeerCertificate()) };
}

/**
 * Mutual-TLS link security: `secureSocket` wraps each link in TLS with the group's CA. On a member
 * link the handshake maps the peer certificate's identity (CN or SAN, through `identities`) to a
 * member id, and a peer whose certificate names another member is refused; on a link a member
 * accepts from a client-side interceptor the certificate identity (mapped) is the proven peer, for
 * the client authenticator. A certificate from another CA is always refused. `path` names the stack
 * section in errors about the files.
 */
export function tlsLinkSecurity(options: TlsLinkOptions, path = 'link'): LinkSecurity {
  const material = readTlsMaterial(options, path);
  const identities = options.identities ?? {};
  return {
    name: 'tls',
    async secureSocket(socket, role, signal) {
      const { socket: secure, identities: ids } = await secureWithTls(material, socket, role, signal);
      return { socket: secure, identity: ids.join(',') };
    },
    handshake(link): Promise<SecuredLink> {
      const ids = (link.peer.tlsIdentity ?? '').split(',').filter((s) => s);
      const mapped = ids.map((id) => identities[id] ?? id);
      const transparent = { transparent: true, seal: (f: LinkFrame) => f, open: (f: LinkFrame) => f };
      if (link.peer.kind === 'client') {
        if (!mapped.length)
          return Promise.reject(
            new AuthenticationError(`certificate of client ${link.peer.address} proves no identity`),
          );
        return Promise.resolve({ peerId: mapped[0]!, ...transparent });
      }
      if (!mapped.includes(link.claimedId))
        return Promise.reject(
          new AuthenticationError(
            `certificate of ${link.peer.address} proves ${ids.length ? ids.join(', ') : 'no identity'}, not member ${link.claimedId}`,
          ),
        );
      return Promise.resolve({ peerId: link.claimedId, ...transparent });
    },
  };
}
