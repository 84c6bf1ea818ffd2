import { createHash, timingSafeEqual } from 'node:crypto';
import { AuthenticationError, ConfigError, type Authenticator, type PeerInfo, type Principal } from '@vcl/core';
import { readSecretFile } from './key-file';

/** Options of `tokenAuthenticator`. */
export interface TokenAuthOptions {
  /**
   * File of `principal: token` lines (a flat YAML mapping; `#` comments and blank lines ignored),
   * mode 0600 or stricter. Required unless `tokens` is given.
   */
  readonly tokensFile?: string;
  /** Principal -> token, given directly (tests); takes precedence over `tokensFile`. */
  readonly tokens?: Readonly<Record<string, string>>;
}

/** Parses `principal: token` lines; `source` names the file in errors. */
export function parseTokens(text: string, source: string): Map<string, string> {
  const tokens = new Map<string, string>();
  const issues: { path: string; message: string }[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/^\s+|\s+$/g, '');
    if (!line || line.startsWith('#')) return;
    const m = /^([^:\s]+)\s*:\s*(?:"([^"]*)"|'([^']*)'|(\S+))$/.exec(line);
    if (!m) {
      issues.push({ path: `line ${i + 1}`, message: 'expected "principal: token"' });
      return;
    }
    const token = m[2] ?? m[3] ?? m[4] ?? '';
    if (token.length < 16)
      issues.push({ path: `line ${i + 1}`, message: `token of ${m[1]} is shorter than 16 characters` });
    else if (tokens.has(m[1]!)) issues.push({ path: `line ${i + 1}`, message: `principal ${m[1]} appears twice` });
    else tokens.set(m[1]!, token);
  });
  if (issues.length) throw new ConfigError(source, issues);
  return tokens;
}

const digest = (s: string | Uint8Array): Buffer => createHash('sha256').update(s).digest();

/**
 * Client authentication by bearer token: the credentials are the token's bytes. Every configured
 * token is compared (in constant time, over SHA-256 digests so lengths leak nothing), so the time
 * taken says nothing about which token or how much of it matched.
 * No token or an unknown one rejects with `AuthenticationError`.
 */
export function tokenAuthenticator(options: TokenAuthOptions): Authenticator {
  const table = options.tokens
    ? new Map(Object.entries(options.tokens))
    : options.tokensFile
      ? parseTokens(readSecretFile(options.tokensFile, 'clients.tokensFile').toString('utf8'), options.tokensFile)
      : undefined;
  if (!table)
    throw new ConfigError('aaa', [
      { path: 'clients.tokensFile', message: 'missing; token authentication needs a tokens file' },
    ]);
  const entries = [...table].map(([principal, token]) => ({ principal, digest: digest(token) }));
  return {
    authenticate(peer: PeerInfo, credentials?: Uint8Array): Promise<Principal> {
      if (!credentials || credentials.length === 0)
        return Promise.reject(new AuthenticationError(`client ${peer.address} presented no token`));
      const given = digest(credentials);
      let match: string | undefined;
      for (const e of entries) if (timingSafeEqual(e.digest, given)) match ??= e.principal;
      if (match === undefined)
        return Promise.reject(new AuthenticationError(`client ${peer.address} presented an unknown token`));
      return Promise.resolve({ id: match, kind: 'client' });
    },
  };
}

/** Options of `tlsClientAuthenticator`. */
export interface TlsClientAuthOptions {
  /** Certificate identity (CN or SAN) -> principal. Default: none, so the identity is the principal. */
  readonly identities?: Readonly<Record<string, string>>;
}

/**
 * Client authentication by mutual TLS: the principal is the client certificate's identity
 * (`peer.tlsIdentity`, mapped through `identities`). A client without a verified certificate
 * rejects with `AuthenticationError`.
 */
export function tlsClientAuthenticator(options: TlsClientAuthOptions = {}): Authenticator {
  const identities = options.identities ?? {};
  return {
    authenticate(peer: PeerInfo): Promise<Principal> {
      const ids = (peer.tlsIdentity ?? '').split(',').filter((s) => s);
      if (!ids.length)
        return Promise.reject(new AuthenticationError(`client ${peer.address} presented no verified certificate`));
      const mapped = ids.find((id) => identities[id] !== undefined);
      return Promise.resolve({ id: mapped !== undefined ? identities[mapped]! : ids[0]!, kind: 'client' });
    },
  };
}
