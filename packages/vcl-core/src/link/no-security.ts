import type { LinkFrame, LinkHandshake, LinkSecurity, SecuredLink } from '../contracts/link-security';

/**
 * The default link security: no authentication, no integrity. A peer is who its hello claims to
 * be. Only for loopback, test and fully trusted networks; use the AAA package's `hmac` or `tls`
 * hooks elsewhere.
 */
export function noLinkSecurity(): LinkSecurity {
  return {
    name: 'none',
    handshake: (link: LinkHandshake): Promise<SecuredLink> =>
      Promise.resolve({ peerId: link.claimedId, transparent: true, seal: same, open: same }),
  };
}

function same(frame: LinkFrame): LinkFrame {
  return frame;
}
