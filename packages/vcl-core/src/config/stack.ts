import type { PartitionMode } from '../contracts/ordering';

// The typed form of a stack file, after validation and with every default filled in. The zod
// schema in stack-schema.ts produces exactly this shape.

/** A TCP address. */
export interface HostPort {
  /** Host name or IP address (loopback or a name). */
  readonly host: string;
  /** TCP port, 1..65535. */
  readonly port: number;
}

/** One configured group member. */
export interface MemberConfig {
  /** Member id, unique in the group (`n1`). */
  readonly id: string;
  /** Host name or address of the member's ports. */
  readonly host: string;
  /** Member<->member link port, 1..65535. */
  readonly port: number;
  /** Port where client-side interceptors connect to this member, 1..65535. */
  readonly clientPort: number;
  /** Port of this member's admin/metrics endpoint; no endpoint when absent. */
  readonly adminPort?: number;
}

/** `group:` the replica group. */
export interface GroupSection {
  /** Group name, for logs and `vcl status`. */
  readonly name: string;
  /** The configured members (at least one; ids and host:port pairs unique). */
  readonly members: readonly MemberConfig[];
  /** Which views may deliver; default `primary-component`; `fail-stop` only with exactly 2 members. */
  readonly partition: PartitionMode;
}

/** Plugin options: plain data from the stack file, validated by the plugin's `create`. */
export type PluginOptions = Readonly<Record<string, unknown>>;

/** `ordering:` the ordering (group communication) plugin. */
export interface OrderingSection {
  /** Plugin short name (`sequencer`, `tokenring`) or package name; default `sequencer`. */
  readonly plugin: string;
  /** Passed untouched to the plugin's `create`; absent when not given. */
  readonly options?: PluginOptions;
}

/** One entry of `substrates:` (or the single `substrate:` shorthand). */
export interface SubstrateSection {
  /** Plugin short name (`tcp`, `http`, `cli`) or package name. */
  readonly plugin: string;
  /**
   * The name sessions of this substrate carry (in OPEN/HELLO and the ordered `open`), what access
   * policies see as `substrate`, and what `vcl client --substrate` and `vcl-exec --substrate`
   * select; unique in the stack. Default the plugin's substrate name (`tcp`, `http`, `cli`).
   */
  readonly name?: string;
  /** Passed untouched to the plugin's `create`; absent when not given. */
  readonly options?: PluginOptions;
  /**
   * Where the client-side interceptor listens for this substrate; default `client.listen`.
   * Required for every substrate when the stack has several (each needs its own listener).
   */
  readonly listen?: HostPort;
  /**
   * Where this substrate's sessions reach the replica, instead of the stack's `service` target
   * (e.g. TCP clients go to `service.endpoint`, while a `cli` substrate runs `service.command`
   * here). Exactly one of `endpoint` or `command`. Default the stack's `service` target.
   */
  readonly service?: SubstrateServiceTarget;
  /**
   * Required for a `stream` substrate (e.g. `tcp` with `framing: raw`), whose request boundaries
   * are unknown, so the total order cannot decide how the service interleaves concurrent
   * sessions: `one-at-a-time` (the group refuses a session while another of this substrate is
   * open, decided in the total order) or `isolated` (you assert the service's sessions share no
   * state). Ignored for request-response substrates. See docs/execution.md.
   */
  readonly sessions?: SessionsPolicy;
}

/** How a stream substrate's sessions may run (`substrates[].sessions`). */
export type SessionsPolicy = 'one-at-a-time' | 'isolated';

/** `substrates[].service`: a per-substrate service target (exactly one field). */
export interface SubstrateServiceTarget {
  /** Connect to the replica's service at this address (TCP-based substrates). */
  readonly endpoint?: HostPort;
  /** Run this argv for each request (command-line substrates). */
  readonly command?: readonly string[];
}

/** How a replica's service is reached: a running endpoint, or a command that starts it. */
export type ServiceTarget =
  | {
      /** Connect to an already running service at this address. */
      readonly endpoint: HostPort;
      readonly command?: undefined;
      readonly cwd?: undefined;
      readonly env?: undefined;
    }
  | {
      readonly endpoint?: undefined;
      /** Start the service with this argv (first element is the program). */
      readonly command: readonly string[];
      /** Working directory of the command; default the interceptor's. */
      readonly cwd?: string;
      /** Extra environment variables for the command; default none. */
      readonly env?: Readonly<Record<string, string>>;
    };

/** Commands that save and load the service's state. */
export interface SnapshotCommands {
  /** argv that writes a snapshot of the service's state to its standard output. */
  readonly save: readonly string[];
  /** argv that loads a snapshot from its standard input into the service. */
  readonly load: readonly string[];
}

/**
 * `service.stateDigest`: the service's own state digest, compared between replicas every `every`
 * requests (divergence detection of state that does not show in the output yet).
 */
export interface StateDigestSection {
  /**
   * argv (run without a shell, with `VCL_MEMBER`, `VCL_SERVICE_HOST`, `VCL_SERVICE_PORT` and
   * `VCL_DATA_DIR` set) whose standard output, any bytes, is the service's state digest. Required
   * in external mode; internal mode passes a `stateDigest` callback to `startServiceMember` instead.
   */
  readonly command?: readonly string[];
  /** Requests (over all sessions, in delivery order) between two digests; a positive integer, default 1000. */
  readonly every: number;
}

/** How a restarted replica gets back the state of the group. */
export type RecoveryMode =
  /** Nothing is transferred; the service is expected to be stateless or externally restored. */
  | 'none'
  /** The ordered requests are replayed to a freshly reset service. */
  | 'replay'
  /** A snapshot is taken at a member and loaded at the joiner (needs `snapshot`). */
  | 'snapshot';

/** `service:` the replicated service, as each member's service-side interceptor reaches it. */
export type ServiceSection = ServiceTarget & {
  /** argv that resets the service to its initial state; default none. */
  readonly resetCommand?: readonly string[];
  /** Snapshot commands; required when `recovery` is `snapshot`. */
  readonly snapshot?: SnapshotCommands;
  /** State digest every K requests, compared like output (needs `onDivergence` report or evict); default none. */
  readonly stateDigest?: StateDigestSection;
  /** How a restarted replica recovers; default `none`. */
  readonly recovery: RecoveryMode;
  /** Directory for the member's own files (logs, snapshots); default none. */
  readonly dataDir?: string;
  /** `recovery: replay`: the bound of the ordered event log in `dataDir`. */
  readonly replayLog?: ReplayLogSection;
};

/** `service.replayLog`: how the replay log is kept bounded. */
export interface ReplayLogSection {
  /**
   * Once the log reaches this many bytes the member snapshots the service (`service.snapshot.save`,
   * or the internal-mode callback) and drops the events before it. Default 64 MiB (67108864).
   */
  readonly maxBytes: number;
}

/** `client:` the client-side interceptor. */
export interface ClientSection {
  /** Where it accepts the real clients; `host` defaults to `127.0.0.1`. */
  readonly listen: HostPort;
  /** How long it tries to reach another member before failing a client; default 10000 ms. */
  readonly failoverTimeoutMs: number;
}

/** `aaa.link:` integrity and authentication of member<->member and interceptor links. */
export interface LinkAuth {
  /** `none` (default), `hmac` (shared group key, HMAC per frame) or `tls` (mutual TLS). */
  readonly mode: 'none' | 'hmac' | 'tls';
  /** The shared group key file; required with `hmac`. */
  readonly keyFile?: string;
  /** CA certificate file; required with `tls`. */
  readonly ca?: string;
  /** This member's certificate file; required with `tls`. */
  readonly cert?: string;
  /** This member's private key file; required with `tls`. */
  readonly key?: string;
}

/** `aaa.clients:` authentication of client-side interceptors. */
export interface ClientAuth {
  /** `none` (default), `token` (bearer tokens) or `tls` (client certificates). */
  readonly mode: 'none' | 'token' | 'tls';
  /** File of accepted tokens; required with `token`. */
  readonly tokensFile?: string;
  /** CA file for client certificates; with `tls`, defaults to `aaa.link.ca`. */
  readonly ca?: string;
  /** Server certificate file; with `tls`, defaults to `aaa.link.cert`. */
  readonly cert?: string;
  /** Server private key file; with `tls`, defaults to `aaa.link.key`. */
  readonly key?: string;
}

/**
 * `aaa.client:` the client-side interceptor's own credentials (read by `vcl client` and
 * `startClientInterceptor`, ignored by members).
 */
export interface ClientCredentials {
  /** File holding this client's bearer token (`aaa.clients.mode: token`); surrounding whitespace is ignored. */
  readonly tokenFile?: string;
  /** CA file that members' certificates must chain to; default `aaa.clients.ca`, then `aaa.link.ca`. */
  readonly ca?: string;
  /** This client's certificate file (mutual TLS); default `aaa.link.cert`. */
  readonly cert?: string;
  /** This client's private key file (mode 0600 or stricter); default `aaa.link.key`. */
  readonly key?: string;
}

/** `aaa.audit:` the audit trail. */
export interface AuditSection {
  /** The append-only audit file. */
  readonly file: string;
  /** Size at which the file is rotated (to `file.1`, older ones shifted up), in bytes; default 10 MiB. */
  readonly maxBytes?: number;
}

/** `aaa:` authentication, authorization and auditing. */
export interface AaaSection {
  /** Link integrity; default `{ mode: none }`. */
  readonly link: LinkAuth;
  /** Client authentication; default `{ mode: none }`. */
  readonly clients: ClientAuth;
  /** The client-side interceptor's own credentials; default none. */
  readonly client?: ClientCredentials;
  /** Access policy: a list of rules (given to the policy plugin), or a policy file name; default allow all. */
  readonly policy?: readonly unknown[] | string;
  /** Audit trail; default none. */
  readonly audit?: AuditSection;
  /**
   * With `link.mode: none` given explicitly: members or clients may listen off loopback without
   * link security (a fully trusted network). Default false: such a stack is refused.
   */
  readonly allowInsecureNetwork?: boolean;
}

/** `timeouts:` failure detection and I/O limits, in milliseconds. */
export interface TimeoutsSection {
  /** Period of liveness messages between members; default 100. */
  readonly heartbeatMs: number;
  /** Silence after which a member is suspected to have failed; default 1000. */
  readonly suspectMs: number;
  /** Limit for opening a connection; default 2000. */
  readonly connectMs: number;
  /** Limit for one request to the service; default 30000. */
  readonly requestMs: number;
}

/**
 * `limits:` what one peer may hold on a listening port (member client port, `vcl client` listen
 * port, admin port). At a limit the peer is refused with a typed error, a rate-limited warning, a
 * metric and an audit event (`limit.refused`). Every field has a default.
 */
export interface LimitsSection {
  /** Largest client-link frame before the session is open (authenticated, welcomed); default 65536. */
  readonly preAuthFrameBytes: number;
  /** Largest client-link frame once the session is open; default 16777216 (16 MiB). */
  readonly frameBytes: number;
  /** Connections at once per listening port (member client port, `vcl client` port); default 2048. */
  readonly maxConnections: number;
  /** Connections at once from one remote address, per listening port; default 512 (every session of one `vcl client` host reaches a member from one address). */
  readonly maxConnectionsPerAddress: number;
  /** A client link whose session is not open this long after connecting is refused; default 10000 ms. */
  readonly handshakeTimeoutMs: number;
  /** `vcl client`: a request still incomplete after this long drops its connection (slowloris); default 10000 ms. */
  readonly partialRequestTimeoutMs: number;
  /** Admin port: connections at once; default 16. */
  readonly adminMaxConnections: number;
  /** Admin port: a request must arrive whole within this long, and an idle connection is closed after it; default 5000 ms. */
  readonly adminRequestTimeoutMs: number;
}

/** `admin:` the per-member admin/metrics endpoint (port: `group.members[].adminPort`). */
export interface AdminSection {
  /** Address the admin endpoint binds to; default `127.0.0.1`. */
  readonly host: string;
  /** Whether members with an `adminPort` serve it; default true. */
  readonly enabled: boolean;
}

/** What a member does when its replica's output differs from the majority's. */
export type DivergencePolicy =
  /** Log and audit it, keep serving (default). */
  | 'report'
  /** Leave the group, so the diverged replica serves no client. */
  | 'evict'
  /** No detection: outputs are not hashed or compared. */
  | 'off';

/** A validated stack file: one replicated deployment. */
export interface Stack {
  /** The group and its members. */
  readonly group: GroupSection;
  /** The ordering plugin; default `{ plugin: sequencer }`. */
  readonly ordering: OrderingSection;
  /** The substrates (at least one); the file may say `substrate:` for a single one. */
  readonly substrates: readonly SubstrateSection[];
  /** The replicated service. */
  readonly service: ServiceSection;
  /** The client-side interceptor. */
  readonly client: ClientSection;
  /** Authentication, authorization and auditing; absent means none. */
  readonly aaa?: AaaSection;
  /** Timeouts; every field has a default. */
  readonly timeouts: TimeoutsSection;
  /** Admin endpoint settings; every field has a default. */
  readonly admin: AdminSection;
  /** Resource limits of the listening ports; every field has a default. */
  readonly limits: LimitsSection;
  /** Divergence policy; default `report`. */
  readonly onDivergence: DivergencePolicy;
  /** Services the replicated service itself calls (dependent services); absent means none. */
  readonly dependencies?: readonly DependencySection[];
}

/** A dependency's member as the calling group reaches it: its client address. */
export interface DependencyMember {
  /** The dependency member's id. */
  readonly id: string;
  /** Host of its client port. */
  readonly host: string;
  /** Its client port (where client-side interceptors connect). */
  readonly port: number;
}

/** One entry of `dependencies:`: a service the replicated service is a client of. */
export interface DependencySection {
  /** Unique name, no `:` (part of the derived session ids). */
  readonly name: string;
  /** `replicated` (the dependency is a VCL stack; repeats are dropped there) or `exclusive` (a plain server: one caller). */
  readonly mode: 'replicated' | 'exclusive';
  /** `replicated`: the dependency's stack file (its members' client addresses are read from it); relative to this file. */
  readonly stack?: string;
  /** `replicated`: the dependency's members' client addresses (instead of `stack`). */
  readonly members?: readonly DependencyMember[];
  /** `exclusive`: the plain server's address. */
  readonly target?: HostPort;
  /** `exclusive`: a call cut by a caller failure is sent again (true) or reported failed (false, default). */
  readonly idempotent: boolean;
  /** `exclusive`: what the replicas read instead of the response of a call reported failed; default: the connection is closed. */
  readonly failureResponse?: string;
  /** Where each member accepts its replica's connections to this dependency (external mode). */
  readonly listen?: HostPort;
  /** Per-member override of `listen` (several replicas on one host), by member id. */
  readonly memberListen?: Readonly<Record<string, HostPort>>;
}
