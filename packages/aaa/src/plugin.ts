import {
  AUDITOR,
  AUTHENTICATOR,
  AUTHORIZER,
  ConfigError,
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
import { tlsLinkSecurity } from './tls';
import { tlsClientAuthenticator, tokenAuthenticator } from './token';

/** The `aaa` section as a plugin receives it (the stack schema has validated it; defaults may be missing). */
type AaaInput = Partial<AaaSection>;

function section(options: unknown): AaaInput {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options))
    throw new ConfigError('aaa', [{ path: '(root)', message: 'expected the aaa section (an object)' }]);
  return options as AaaInput;
}

function plugin(name: string, register: (c: DependencyContainer) => void): Plugin {
  return { kind: 'aaa', name, register };
}

/** The `hmac` plugin: registers `hmacLinkSecurity({ keyFile: aaa.link.keyFile })` as `LINK_SECURITY`. */
export function hmacPlugin(aaa: AaaInput): Plugin {
  const security: LinkSecurity = hmacLinkSecurity({ keyFile: aaa.link?.keyFile });
  return plugin('hmac', (c) => c.register(LINK_SECURITY, { useValue: security }));
}

/**
 * The `tls` plugin: with `link.mode: tls`, registers mutual-TLS `LINK_SECURITY` from `link.ca/cert/key`;
 * with `clients.mode: tls`, registers the certificate-identity `AUTHENTICATOR`.
 */
export function tlsPlugin(aaa: AaaInput): Plugin {
  const security =
    aaa.link?.mode === 'tls'
      ? tlsLinkSecurity({ ca: aaa.link.ca!, cert: aaa.link.cert!, key: aaa.link.key! })
      : undefined;
  const auth: Authenticator | undefined = aaa.clients?.mode === 'tls' ? tlsClientAuthenticator() : undefined;
  return plugin('tls', (c) => {
    if (security) c.register(LINK_SECURITY, { useValue: security });
    if (auth) c.register(AUTHENTICATOR, { useValue: auth });
  });
}

/** The `token` plugin: registers `tokenAuthenticator({ tokensFile: aaa.clients.tokensFile })` as `AUTHENTICATOR`. */
export function tokenPlugin(aaa: AaaInput): Plugin {
  const auth = tokenAuthenticator({ tokensFile: aaa.clients?.tokensFile });
  return plugin('token', (c) => c.register(AUTHENTICATOR, { useValue: auth }));
}

/** The `policy` plugin: registers `policyAuthorizer` over `aaa.policy` (rules, or a policy file path) as `AUTHORIZER`. */
export function policyPlugin(aaa: AaaInput): Plugin {
  const rules =
    aaa.policy === undefined
      ? undefined
      : typeof aaa.policy === 'string'
        ? readPolicyFile(aaa.policy)
        : parsePolicy(aaa.policy);
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
