/**
 * The error hierarchy. One class per failure mode, each with a stable `code`; wrapping errors pass
 * `{ cause }`. Across the wire an error travels as data (a typed error frame), never as a throw.
 */
export class VclError extends Error {
  /** A stable machine-readable code (`VCL_CONFIG`, `VCL_FRAME_TOO_LARGE`, ...). */
  readonly code: string = 'VCL_ERROR';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** One problem found in a stack file. */
export interface ConfigIssue {
  /** Where in the file, as a dotted path (`group.members[1].port`), or `(root)`. */
  readonly path: string;
  /** What was wrong and what was expected. */
  readonly message: string;
  /** How to fix it, when there is an obvious fix. */
  readonly hint?: string;
  /** 1-based line in the file, when known (the message also says it). */
  readonly line?: number;
  /** 1-based column in the file, when known. */
  readonly column?: number;
}

/** A stack file (or options object) that cannot be used; lists every problem found. */
export class ConfigError extends VclError {
  override readonly code = 'VCL_CONFIG';
  /** Every problem, each with its path in the file. */
  readonly issues: readonly ConfigIssue[];

  constructor(source: string, issues: readonly ConfigIssue[], options?: { cause?: unknown }) {
    super(
      `${source}: ${issues.length} problem${issues.length === 1 ? '' : 's'}\n` +
        issues.map((i) => `  - ${i.path}: ${i.message}${i.hint ? ` (hint: ${i.hint})` : ''}`).join('\n'),
      options,
    );
    this.issues = issues;
  }
}

/** A plugin name that no registered plugin has. */
export class UnknownPluginError extends VclError {
  override readonly code = 'VCL_UNKNOWN_PLUGIN';
}

/** A single-choice slot (e.g. the ordering protocol) with zero or several candidates. */
export class SlotError extends VclError {
  override readonly code = 'VCL_SLOT';
}

/**
 * A request that cannot be replicated deterministically or transparently (`RequestPlan` `refuse`):
 * answered with the substrate's error response at its place in the total order, never applied.
 */
export class UnreplicableRequestError extends VclError {
  override readonly code = 'VCL_UNREPLICABLE';
}

/** A link frame that cannot be decoded (bad magic, bad length, bad field). */
export class MalformedFrameError extends VclError {
  override readonly code: string = 'VCL_MALFORMED_FRAME';
}

/** A link frame or substrate message larger than the configured maximum. */
export class FrameTooLargeError extends MalformedFrameError {
  override readonly code = 'VCL_FRAME_TOO_LARGE';
}

/** A link frame of a protocol version this build does not speak. */
export class UnsupportedVersionError extends MalformedFrameError {
  override readonly code = 'VCL_UNSUPPORTED_VERSION';
}

/** Substrate input that does not follow the protocol's framing (e.g. a bad HTTP request line). */
export class FramingError extends VclError {
  override readonly code: string = 'VCL_FRAMING';
}

/** A substrate message larger than the substrate's configured maximum. */
export class MessageTooLargeError extends FramingError {
  override readonly code = 'VCL_MESSAGE_TOO_LARGE';
}

/** A peer that could not prove who it is (bad key, bad token, untrusted certificate). */
export class AuthenticationError extends VclError {
  override readonly code = 'VCL_AUTHENTICATION';
}

/** A request the policy denies. */
export class AuthorizationError extends VclError {
  override readonly code = 'VCL_AUTHORIZATION';
}

/** A frame whose integrity check failed (tampered, replayed, reordered). */
export class IntegrityError extends VclError {
  override readonly code = 'VCL_INTEGRITY';
}

/** An operation on a component that is stopped or stopping. */
export class StoppedError extends VclError {
  override readonly code = 'VCL_STOPPED';
}

/** An operation that did not finish in its allowed time. */
export class TimeoutError extends VclError {
  override readonly code = 'VCL_TIMEOUT';
}

/** A session id that the member does not know. */
export class UnknownSessionError extends VclError {
  override readonly code: string = 'VCL_UNKNOWN_SESSION';
}

/**
 * A HELLO (or OPEN) naming a session that another principal opened: refused before anything is
 * ordered, and again in the total order, so nobody can resume a session that is not theirs.
 */
export class SessionHijackError extends VclError {
  override readonly code = 'VCL_SESSION_HIJACK';
}

/** A connection, frame or handshake refused at a resource limit (`limits:` in the stack file). */
export class LimitExceededError extends VclError {
  override readonly code = 'VCL_LIMIT';
}

/**
 * This member's id is in use by another, newer incarnation (a restarted copy of it, or an
 * impostor on a network without link security): the member must step out of the group.
 */
export class IdTakenError extends VclError {
  override readonly code = 'VCL_ID_TAKEN';
}

/** A session that existed but was closed or expired. */
export class ExpiredSessionError extends UnknownSessionError {
  override readonly code = 'VCL_EXPIRED_SESSION';
}

/**
 * A session refused because its stream substrate runs one session at a time (`sessions:
 * one-at-a-time`) and another one is open; decided in the total order, alike at every member.
 */
export class SessionLimitError extends VclError {
  override readonly code = 'VCL_SESSION_LIMIT';
}

/**
 * A session closed because its client left more unacknowledged output than the member's cache
 * bound (`maxCacheBytes`): it does not read what it asked for (a slow consumer).
 */
export class SessionOverflowError extends VclError {
  override readonly code = 'VCL_SESSION_OVERFLOW';
}

/**
 * This member's service failed (its conversation broke or ended unasked while a fresh dial is
 * refused): the replica cannot follow the total order any more, so the member leaves the group.
 */
export class ServiceFailedError extends VclError {
  override readonly code = 'VCL_SERVICE_FAILED';
}

/** No member of the group could be reached within the allowed time. */
export class UnavailableError extends VclError {
  override readonly code = 'VCL_UNAVAILABLE';
}

/** A replica whose output differs from the majority's (non-deterministic service). */
export class DivergenceError extends VclError {
  override readonly code = 'VCL_DIVERGENCE';
}

/**
 * Options for one plugin (or other component) that fail validation. Its issues carry paths under
 * `source`; `relativeIssues` carries the same issues relative to the options object, so an
 * assembly can re-root them under the options' real place in a stack file.
 */
export class OptionsError extends ConfigError {
  /** Where the options sit (`ordering.options`), as given to `parseOptions`. */
  readonly optionsSource: string;
  /** The issues with paths relative to the options object (`heartbeatMs`, or `(root)`). */
  readonly relativeIssues: readonly ConfigIssue[];

  constructor(source: string, relativeIssues: readonly ConfigIssue[], options?: { cause?: unknown }) {
    super(
      source,
      relativeIssues.map((i) => ({ ...i, path: joinConfigPath(source, i.path) })),
      options,
    );
    this.optionsSource = source;
    this.relativeIssues = relativeIssues;
  }
}

/** Joins a config path prefix and a relative path (`ordering.options` + `a[1]` -> `ordering.options.a[1]`). */
export function joinConfigPath(prefix: string, relative: string): string {
  if (relative === '(root)' || relative === '') return prefix;
  if (prefix === '(root)' || prefix === '') return relative;
  return relative.startsWith('[') ? `${prefix}${relative}` : `${prefix}.${relative}`;
}

/** A plugin package that cannot be loaded, or that exports no usable registration. */
export class PluginLoadError extends VclError {
  override readonly code = 'VCL_PLUGIN_LOAD';
}

/** Two packages registering a plugin of the same kind under the same name. */
export class DuplicatePluginError extends VclError {
  override readonly code = 'VCL_DUPLICATE_PLUGIN';
}

/** A value that cannot be written into a frame field (out of range, not an integer, too long). */
export class EncodingError extends VclError {
  override readonly code = 'VCL_ENCODING';
}

/** A listener that cannot bind its address (port taken, address not local, no permission). */
export class ListenError extends VclError {
  override readonly code = 'VCL_LISTEN';
}

/** A payload an ordering protocol refuses: not a `Uint8Array`, or larger than its maximum message size. */
export class BroadcastRejectedError extends VclError {
  override readonly code = 'VCL_BROADCAST_REJECTED';
}

/** A recovery state (state transfer to a rejoining member, or a replay log) that cannot be decoded. */
export class RecoveryStateError extends VclError {
  override readonly code = 'VCL_RECOVERY_STATE';
}

/**
 * A member that cannot rejoin a running group: `service.recovery` is `none` (the paper's assumption
 * that every replica starts fresh together), or the members disagree on the recovery mode.
 */
export class RecoveryRefusedError extends VclError {
  override readonly code = 'VCL_RECOVERY_REFUSED';
}

/** A service command of the recovery (`service.snapshot.save`/`load`, `service.resetCommand`) failed. */
export class RecoveryCommandError extends VclError {
  override readonly code = 'VCL_RECOVERY_COMMAND';
}

/** A call of a replicated service to a dependency was cut by a caller failure and may not be repeated (not idempotent). */
export class DependencyCallFailedError extends VclError {
  override readonly code = 'VCL_DEPENDENCY_CALL_FAILED';
}

/** A session names a substrate the member does not serve (a client-side interceptor of another stack). */
export class UnknownSubstrateError extends VclError {
  override readonly code = 'VCL_UNKNOWN_SUBSTRATE';
}
