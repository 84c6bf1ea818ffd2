import type { Auditor, Authenticator, Authorizer } from './aaa';
import type { Clock } from './clock';
import type { LinkSecurity } from './link-security';
import type { Logger } from './logger';
import type { Network } from './network';
import type { GroupConfig, OrderingProtocol } from './ordering';
import type { Random } from './random';
import type { Substrate } from './substrate';
import { token } from './token';
import type { MemberConfig, Stack } from '../config/stack';

// Every injection token for a core interface, in one place.

/** The deployment's clock (real or virtual). */
export const CLOCK = token<Clock>('Clock');
/** The deployment's randomness (real or seeded). */
export const RANDOM = token<Random>('Random');
/** The deployment's root logger. */
export const LOGGER = token<Logger>('Logger');
/** Links between this member and the other members. */
export const NETWORK = token<Network>('Network');
/** The group as configured (self, members, partition mode). */
export const GROUP = token<GroupConfig>('GroupConfig');
/** The single-choice ordering slot. */
export const ORDERING = token<OrderingProtocol>('OrderingProtocol');
/** Substrates of the stack (a stack may expose one service through several). */
export const SUBSTRATE = token<Substrate>('Substrate');
/** Client and member authentication. */
export const AUTHENTICATOR = token<Authenticator>('Authenticator');
/** Access policy, checked before a request enters the total order. */
export const AUTHORIZER = token<Authorizer>('Authorizer');
/** The audit trail. */
export const AUDITOR = token<Auditor>('Auditor');

/** The deployment's validated stack file. */
export const STACK = token<Stack>('Stack');
/** This member's entry of the stack's `group.members`. */
export const MEMBER = token<MemberConfig>('Member');
/** Link integrity and authentication for member and interceptor links (default: none). */
export const LINK_SECURITY = token<LinkSecurity>('LinkSecurity');
/** The hook a member runs on links it accepts from client-side interceptors (default: none). */
export const INTERCEPTOR_LINK_SECURITY = token<LinkSecurity>('InterceptorLinkSecurity');
/** The hook a client-side interceptor runs on its links to members (default: none). */
export const CLIENT_LINK_SECURITY = token<LinkSecurity>('ClientLinkSecurity');
