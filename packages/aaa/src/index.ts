/**
 * @vcl/aaa: authentication, authorization and auditing for VCL, and integrity of its own links.
 *
 * @example
 * ```ts
 * import { tcpNetwork } from '@vcl/core';
 * import { fileAuditor, hmacLinkSecurity, policyAuthorizer, tokenAuthenticator } from '@vcl/aaa';
 *
 * // Member links: shared group key (chmod 600 group.key), HMAC on every frame.
 * const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };
 * const members = [{ id: 'n1', host: '127.0.0.1', port: 7101 }, { id: 'n2', host: '127.0.0.1', port: 7102 }];
 * const net = tcpNetwork({ self: 'n1', members, logger: silent, security: hmacLinkSecurity({ keyFile: 'group.key' }) });
 *
 * // Clients: bearer tokens, a policy, an audit trail.
 * const authn = tokenAuthenticator({ tokens: { alice: 'alice-token-0123456789' } });
 * const authz = policyAuthorizer([{ principal: 'alice', http: ['GET /items/*'] }]);
 * const audit = fileAuditor({ file: 'audit.log' });
 * const alice = await authn.authenticate({ kind: 'client', address: '127.0.0.1:5000' }, new TextEncoder().encode('alice-token-0123456789'));
 * const decision = authz.authorize(alice, { substrate: 'http', type: 'request', method: 'DELETE', path: '/items/1' });
 * if (!decision.allow) audit.audit({ type: 'authz.denied', member: 'n1', principal: alice.id, reason: decision.reason });
 * ```
 */
export { hmacLinkSecurity, hmacFraming, HMAC_TAG_BYTES, type HmacLinkOptions } from './hmac';
export { tlsLinkSecurity, secureWithTls, readTlsMaterial, certificateIdentities, type TlsLinkOptions } from './tls';
export {
  tokenAuthenticator,
  tlsClientAuthenticator,
  parseTokens,
  type TokenAuthOptions,
  type TlsClientAuthOptions,
} from './token';
export {
  policyAuthorizer,
  parsePolicy,
  readPolicyFile,
  type PolicyRule,
  type PolicyDecision,
  type PolicyAuthorizer,
} from './policy';
export { fileAuditor, DEFAULT_AUDIT_MAX_BYTES, type FileAuditOptions } from './file-audit';
export { readSecretFile } from './key-file';
export { registrations, hmacPlugin, tlsPlugin, tokenPlugin, policyPlugin, fileAuditPlugin } from './plugin';
