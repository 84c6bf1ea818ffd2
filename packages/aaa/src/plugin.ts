import {
  AUDITOR,
  AUTHENTICATOR,
  AUTHORIZER,
  CLIENT_LINK_SECURITY,
  ConfigError,
  joinConfigPath,
  INTERCEPTOR_LINK_SECURITY,
  LINK_SECURITY,
  type AaaSection,
  type Auditor,
  type Authenticator,
  type Authorizer,
  type LinkSecurity,
  type Plugin,
  type PluginRegistration,
} from '@vcl/core';
import type { DependencyContainer } from 'tsyringe';
import { fileAuditor } from './file-audit';
import { hmacLinkSecurity } from './hmac';
import { parsePolicy, policyAuthorizer, readPolicyFile } from './policy';
import { tlsLinkSecurity, type TlsLinkOptions } from './tls';
import { tlsClientAuthenticator, tokenAuthenticator } from './token';

/**
 * The `aaa` section as a plugin receives it (the stack schema has validated it; defaults may be
 * missing), plus which end is being assembled: `member` (default) or `client`, the client-side
 * interceptor, which reads only its own credentials (`aaa.client`) and the shared key.
 */
type AaaInput = Partial<AaaSection> & { readonly side?: 'member' | 'client' };

function section(options: unknown): AaaInput {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options))
    throw new ConfigError('aaa', [{ path: '(root)', message: 'expected the aaa section (an object)' }]);
  return options as AaaInput;
}

/**
 * Runs `make`, re-throwing a `ConfigError` with its issues placed under `at` in the `aaa` section
 * (`policy[1].cli`, `link.keyFile`), so the stack error names the field and its line.
 */
function under<T>(at: string, make: () => T): T {
  try {
    return make();
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    throw new ConfigError(
      'aaa',
      e.issues.map((i) => ({
        ...i,
        // Paths already relative to the aaa section (`link.keyFile`) stay; others go under `at`.
        path: i.path.startsWith(`${at.split('.')[0]!}.`) ? i.path : joinConfigPath(at, i.path),
      })),
      { cause: e },
    );
  }
}

function plugin(name: string, register: (c: DependencyContainer) => void): Plugin {
  return { kind: 'aaa', name, register };
}

/**
 * The `hmac` plugin: `hmacLinkSecurity({ keyFile: aaa.link.keyFile })` for member links
 * (`LINK_SECURITY`) and, unless clients use TLS, for interceptor links too
 * (`INTERCEPTOR_LINK_SECURITY` at members, `CLIENT_LINK_SECURITY` at client-side interceptors), so
 * client-side interceptors hold the group key as well.
 */
export function hmacPlugin(aaa: AaaInput): Plugin {
  const security: LinkSecurity = under('link.keyFile', () => hmacLinkSecurity({ keyFile: aaa.link?.keyFile }));
  const interceptorLinks = aaa.clients?.mode !== 'tls';
  if (aaa.side === 'client')
    return plugin('hmac', (c) => {
      if (interceptorLinks) c.register(CLIENT_LINK_SECURITY, { useValue: security });
    });
  return plugin('hmac', (c) => {
    c.register(LINK_SECURITY, { useValue: security });
    if (interceptorLinks) c.register(INTERCEPTOR_LINK_SECURITY, { useValue: security });
  });
}

/**
 * The `tls` plugin. At a member: with `link.mode: tls`, mutual-TLS `LINK_SECURITY` from
 * `link.ca/cert/key`; with `clients.mode: tls`, the certificate-identity `AUTHENTICATOR`. Interceptor
 * links (`INTERCEPTOR_LINK_SECURITY`) use mutual TLS with `clients.ca/cert/key` when clients use
 * TLS, else with the link's material when members do. At a client-side interceptor
 * (`side: client`): `CLIENT_LINK_SECURITY`, mutual TLS with `aaa.client.cert/key`, trusting
 * `aaa.client.ca`, then `clients.ca`, then `link.ca`.
 */
export function tlsPlugin(aaa: AaaInput): Plugin {
  const link = aaa.link;
  const clients = aaa.clients;
  const clientsTls = clients?.mode === 'tls';
  if (aaa.side === 'client') {
    if (!clientsTls && link?.mode !== 'tls') return plugin('tls', () => undefined);
    const own = aaa.client ?? {};
    const material = {
      ca: own.ca ?? (clientsTls ? clients?.ca : undefined) ?? link?.ca,
      cert: own.cert ?? link?.cert,
      key: own.key ?? link?.key,
    };
    const security = tlsLinkSecurity(material as TlsLinkOptions, 'client');
    return plugin('tls', (c) => c.register(CLIENT_LINK_SECURITY, { useValue: security }));
  }
  const security =
    link?.mode === 'tls' ? tlsLinkSecurity({ ca: link.ca!, cert: link.cert!, key: link.key! }) : undefined;
  const interceptor = clientsTls
    ? tlsLinkSecurity(
        {
          ca: clients.ca ?? link?.ca,
          cert: clients.cert ?? link?.cert,
          key: clients.key ?? link?.key,
        } as TlsLinkOptions,
        'clients',
      )
    : security;
  const auth: Authenticator | undefined = clientsTls ? tlsClientAuthenticator() : undefined;
  return plugin('tls', (c) => {
    if (security) c.register(LINK_SECURITY, { useValue: security });
    if (interceptor) c.register(INTERCEPTOR_LINK_SECURITY, { useValue: interceptor });
    if (auth) c.register(AUTHENTICATOR, { useValue: auth });
  });
}

/** The `token` plugin: registers `tokenAuthenticator({ tokensFile: aaa.clients.tokensFile })` as `AUTHENTICATOR`. */
export function tokenPlugin(aaa: AaaInput): Plugin {
  const auth = under('clients.tokensFile', () => tokenAuthenticator({ tokensFile: aaa.clients?.tokensFile }));
  return plugin('token', (c) => c.register(AUTHENTICATOR, { useValue: auth }));
}

/** The `policy` plugin: registers `policyAuthorizer` over `aaa.policy` (rules, or a policy file path) as `AUTHORIZER`. */
export function policyPlugin(aaa: AaaInput): Plugin {
  const policy = aaa.policy;
  const rules =
    policy === undefined
      ? undefined
      : typeof policy === 'string'
        ? under('policy', () => readPolicyFile(policy))
        : under('policy', () => parsePolicy(policy));
  const authz: Authorizer = policyAuthorizer(rules);
  return plugin('policy', (c) => c.register(AUTHORIZER, { useValue: authz }));
}

/** The `file-audit` plugin: registers `fileAuditor(aaa.audit)` as `AUDITOR` (the file is opened on the first event). */
export function fileAuditPlugin(aaa: AaaInput): Plugin {
  if (!aaa.audit?.file)
    throw new ConfigError('aaa', [{ path: 'audit.file', message: 'missing; file-audit needs a file' }]);
  const auditor: Auditor = fileAuditor({ file: aaa.audit.file, maxBytes: aaa.audit.maxBytes });
  return plugin('file-audit', (c) => c.register(AUDITOR, { useValue: auditor }));
}

const entry = (name: string, description: string, make: (aaa: AaaInput) => Plugin): PluginRegistration => ({
  kind: 'aaa',
  name,
  packageName: '@vcl/aaa',
  description,
  create: (options: unknown) => make(section(options)),
});

/** The plugin-registry entries: each gets the whole `aaa` section of the stack. */
export const registrations: readonly PluginRegistration[] = [
  entry('hmac', 'shared-key link authentication (nonce handshake) and HMAC-SHA256 frame integrity', hmacPlugin),
  entry('tls', 'mutual TLS for member links and/or client certificate authentication', tlsPlugin),
  entry('token', 'bearer-token client authentication', tokenPlugin),
  entry('policy', 'rule-based authorization of HTTP, command-line and TCP requests (default deny)', policyPlugin),
  entry('file-audit', 'append-only JSON-lines audit log with size rotation', fileAuditPlugin),
];
