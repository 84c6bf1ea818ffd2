import type { RequestPlan, SessionPlanner } from '@vcl/core';
import { requestArgs } from './framers';

// What the execution engine may do with each Redis command. The facts come from Redis's own
// command table (redis/redis src/commands/*.json at 4f8cdc2a1, the `command_flags` READONLY,
// BLOCKING, PUBSUB and the `NONDETERMINISTIC_OUTPUT` tips); the code is ours.

/** Commands that have subcommands: their name is two words (`CLIENT KILL`, `CONFIG GET`). */
export const CONTAINER_COMMANDS: ReadonlySet<string> = new Set([
  'ACL', 'CLIENT', 'CLUSTER', 'COMMAND', 'CONFIG', 'FUNCTION', 'LATENCY', 'MEMORY', 'MODULE', 'OBJECT',
  'PUBSUB', 'SCRIPT', 'SENTINEL', 'SLOWLOG', 'XGROUP', 'XINFO',
]); // prettier-ignore

/**
 * Commands Redis flags READONLY and not BLOCKING (src/commands/*.json), minus PFCOUNT (flagged
 * MAY_REPLICATE: it caches the cardinality in the key, a change DEBUG DIGEST sees, so every replica
 * must run it). The refused ones among them (RANDOMKEY, SRANDMEMBER, ...) are refused first.
 */
export const READ_ONLY_COMMANDS: ReadonlySet<string> = new Set([
  'BITCOUNT', 'BITFIELD_RO', 'BITPOS', 'DBSIZE', 'DUMP', 'EVALSHA_RO', 'EVAL_RO', 'EXISTS', 'EXPIRETIME',
  'FCALL_RO', 'GEODIST', 'GEOHASH', 'GEOPOS', 'GEORADIUSBYMEMBER_RO', 'GEORADIUS_RO', 'GEOSEARCH', 'GET',
  'GETBIT', 'GETRANGE', 'HEXISTS', 'HEXPIRETIME', 'HGET', 'HGETALL', 'HKEYS', 'HLEN', 'HMGET',
  'HPEXPIRETIME', 'HPTTL', 'HRANDFIELD', 'HSCAN', 'HSTRLEN', 'HTTL', 'HVALS', 'KEYS', 'LCS', 'LINDEX',
  'LLEN', 'LOLWUT', 'LPOS', 'LRANGE', 'MEMORY USAGE', 'MGET', 'OBJECT ENCODING', 'OBJECT FREQ',
  'OBJECT IDLETIME', 'OBJECT REFCOUNT', 'PEXPIRETIME', 'PTTL', 'RANDOMKEY', 'SCAN', 'SCARD', 'SDIFF',
  'SINTER', 'SINTERCARD', 'SISMEMBER', 'SMEMBERS', 'SMISMEMBER', 'SORT_RO', 'SRANDMEMBER', 'SSCAN',
  'STRLEN', 'SUBSTR', 'SUNION', 'TOUCH', 'TTL', 'TYPE', 'XINFO CONSUMERS', 'XINFO GROUPS', 'XINFO STREAM',
  'XLEN', 'XPENDING', 'XRANGE', 'XREVRANGE', 'ZCARD', 'ZCOUNT', 'ZDIFF', 'ZINTER', 'ZINTERCARD',
  'ZLEXCOUNT', 'ZMSCORE', 'ZRANDMEMBER', 'ZRANGE', 'ZRANGEBYLEX', 'ZRANGEBYSCORE', 'ZRANK', 'ZREVRANGE',
  'ZREVRANGEBYLEX', 'ZREVRANGEBYSCORE', 'ZREVRANK', 'ZSCAN', 'ZSCORE', 'ZUNION',
  // Not flagged READONLY, but they neither change the data nor a connection's state, so the
  // serving member alone may answer them: introspection and connection checks.
  'PING', 'ECHO', 'INFO', 'COMMAND', 'COMMAND COUNT', 'COMMAND DOCS', 'COMMAND GETKEYS',
  'COMMAND GETKEYSANDFLAGS', 'COMMAND INFO', 'COMMAND LIST', 'CONFIG GET', 'PUBSUB CHANNELS',
  'PUBSUB NUMPAT', 'PUBSUB NUMSUB', 'PUBSUB SHARDCHANNELS', 'PUBSUB SHARDNUMSUB', 'SCRIPT EXISTS',
  'FUNCTION LIST', 'FUNCTION DUMP', 'MEMORY STATS', 'MEMORY DOCTOR', 'SLOWLOG GET', 'SLOWLOG LEN',
]); // prettier-ignore

const RANDOM =
  'its reply is a random pick of each replica, so a client that fails over could get an answer no other replica gave';
const RANDOM_WRITE = 'it removes a random member, a different one at each replica, so the replicas would diverge';
const CLOCK = "its reply is read from each replica's own clock, which the replicas do not share";
const CONNECTION =
  "it reads or changes the state of the member's own connection to its replica (ids, names of other clients, reply modes), which differs between replicas and is not the client's";
const BLOCKING =
  'it blocks until another client writes, and ordered requests are applied one after the other: it would hold up every session behind it';
const PUBSUB =
  'it turns the connection into a subscriber whose messages are not replies to ordered requests, so no replica could tell the client which ones it already received';
const REPLICATION =
  "it belongs to Redis's own replication, which VCL replaces; it would make one replica follow another";
const PROCESS = 'it stops, crashes, pauses or inspects one Redis process and would do so to every replica at once';

/**
 * Commands refused with the reason the client is told (`-ERR VCL: <COMMAND> cannot be replicated:
 * <reason>`), unless the stack allows them (`allow`). A container name (`CLIENT`) refuses every
 * subcommand not listed with `null` here.
 */
export const REFUSED_COMMANDS: Readonly<Record<string, string | null>> = {
  RANDOMKEY: RANDOM,
  SRANDMEMBER: RANDOM,
  HRANDFIELD: RANDOM,
  ZRANDMEMBER: RANDOM,
  SPOP: RANDOM_WRITE,
  TIME: CLOCK,
  LASTSAVE: CLOCK,
  CLIENT: CONNECTION,
  // Naming a connection is the same at every replica and changes no data: allowed.
  'CLIENT SETNAME': null,
  'CLIENT GETNAME': null,
  'CLIENT SETINFO': null,
  'CLIENT HELP': null,
  BLPOP: BLOCKING,
  BRPOP: BLOCKING,
  BLMOVE: BLOCKING,
  BLMPOP: BLOCKING,
  BRPOPLPUSH: BLOCKING,
  BZPOPMIN: BLOCKING,
  BZPOPMAX: BLOCKING,
  BZMPOP: BLOCKING,
  WAIT: `${BLOCKING}; it also waits for Redis's own replicas, which VCL replaces`,
  WAITAOF: `${BLOCKING}; it also waits for one replica's own append-only file`,
  SUBSCRIBE: PUBSUB,
  PSUBSCRIBE: PUBSUB,
  SSUBSCRIBE: PUBSUB,
  UNSUBSCRIBE: PUBSUB,
  PUNSUBSCRIBE: PUBSUB,
  SUNSUBSCRIBE: PUBSUB,
  MONITOR: 'it streams every command one replica sees, replies that belong to no ordered request',
  DEBUG: `${PROCESS} (connect to a replica directly for DEBUG DIGEST)`,
  SHUTDOWN: PROCESS,
  FAILOVER: REPLICATION,
  REPLICAOF: REPLICATION,
  SLAVEOF: REPLICATION,
  SYNC: REPLICATION,
  PSYNC: REPLICATION,
  REPLCONF: REPLICATION,
  ROLE: REPLICATION,
  CLUSTER: "it addresses Redis Cluster, whose slots and nodes are each replica's own",
  SENTINEL: 'it addresses Redis Sentinel, which VCL replaces',
  MIGRATE: 'it moves keys to another server, outside the replicated group',
  QUIT: "it makes the replica close the member's connection, which VCL would treat as a failed replica; close the connection instead",
  XAUTOCLAIM: "it claims entries by idle time, measured on each replica's own clock",
  XCLAIM: "it claims entries by idle time, measured on each replica's own clock",
};

const ASCII = new TextDecoder('latin1');
const word = (arg: Uint8Array | undefined): string => (arg ? ASCII.decode(arg).toUpperCase() : '');

/** The command's name as Redis's command table spells it: `GET`, or `CLIENT KILL` for a container. */
export function commandName(args: readonly Uint8Array[]): string {
  const first = word(args[0]);
  return CONTAINER_COMMANDS.has(first) && args.length > 1 ? `${first} ${word(args[1])}` : first;
}

/** Whether `name` is on `list` itself or through its container (`CLIENT` for `CLIENT KILL`). */
function lookup<T>(table: ReadonlyMap<string, T>, name: string): T | undefined {
  if (table.has(name)) return table.get(name);
  const space = name.indexOf(' ');
  return space > 0 ? table.get(name.slice(0, space)) : undefined;
}

/** Reasons that depend on a command's arguments, not only its name. */
function argumentRefusal(name: string, args: readonly Uint8Array[]): string | undefined {
  if ((name === 'XREAD' || name === 'XREADGROUP') && args.some((a) => word(a) === 'BLOCK'))
    return `with BLOCK ${BLOCKING}`;
  if (name === 'XADD' && xaddId(args) === '*')
    return "with the ID '*' each replica makes the ID from its own clock, so the streams would diverge; give explicit IDs";
  return undefined;
}

/** The entry ID argument of `XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] id field value ...`. */
function xaddId(args: readonly Uint8Array[]): string | undefined {
  let i = 2;
  for (;;) {
    const w = word(args[i]);
    if (w === 'NOMKSTREAM') i += 1;
    else if (w === 'MAXLEN' || w === 'MINID') {
      i += 1;
      if (word(args[i]) === '=' || word(args[i]) === '~') i += 1;
      i += 1;
      if (word(args[i]) === 'LIMIT') i += 2;
    } else return args[i] ? ASCII.decode(args[i]) : undefined;
  }
}

/** How the planner treats the commands of one stack: the tables above with the stack's overrides. */
export interface CommandTableOverrides {
  /** Refused commands to pass on (as reads when the read table has them, else as writes). */
  readonly allow?: readonly string[];
  /** Extra commands the serving member alone may answer. */
  readonly reads?: readonly string[];
  /** Commands the table has as reads that every replica must apply instead. */
  readonly writes?: readonly string[];
}

/** The command table of one stack: which commands are reads and which are refused, and why. */
export class CommandTable {
  private readonly reads: ReadonlyMap<string, true>;
  private readonly refused: ReadonlyMap<string, string | null>;
  private readonly allowed: ReadonlySet<string>;

  constructor(overrides: CommandTableOverrides = {}) {
    const norm = (names: readonly string[] = []): string[] =>
      names.map((n) => n.trim().replace(/\s+/g, ' ').toUpperCase());
    const writes = new Set(norm(overrides.writes));
    this.reads = new Map(
      [...READ_ONLY_COMMANDS, ...norm(overrides.reads)].filter((n) => !writes.has(n)).map((n) => [n, true]),
    );
    this.allowed = new Set(norm(overrides.allow));
    this.refused = new Map(Object.entries(REFUSED_COMMANDS));
  }

  /** Why `args` cannot be replicated (`<NAME> cannot be replicated: <why>`), or undefined. */
  refusal(args: readonly Uint8Array[]): string | undefined {
    const name = commandName(args);
    const first = name.split(' ')[0] as string;
    if (this.allowed.has(name) || this.allowed.has(first)) return undefined;
    const why = lookup(this.refused, name) ?? argumentRefusal(name, args);
    return why ? `${name} cannot be replicated: ${why}` : undefined;
  }

  /** Whether `args` changes neither data nor connection state, so the serving member alone may run it. */
  isRead(args: readonly Uint8Array[]): boolean {
    const name = commandName(args);
    if (name === 'XREAD') return true; // READONLY and BLOCKING in Redis's table; without BLOCK (refused above) a plain read
    return lookup(this.reads, name) === true;
  }

  /** A planner for one session. */
  planner(): SessionPlanner {
    return new RespSessionPlanner(this);
  }
}

const WRITE: RequestPlan = Object.freeze({ kind: 'write' });
const READ: RequestPlan = Object.freeze({ kind: 'read' });

/**
 * Plans one session's requests in the total order. It follows MULTI/EXEC: Redis only queues the
 * commands of a transaction (`+QUEUED`) and runs them all at EXEC, so inside a block every command
 * is a write, reads included, and the block is applied as a unit at EXEC's place in the order.
 * It sees the same requests at every member, so its state is the same everywhere.
 */
class RespSessionPlanner implements SessionPlanner {
  private inTransaction = false;

  constructor(private readonly table: CommandTable) {}

  plan(request: Uint8Array): RequestPlan {
    let args: Uint8Array[];
    try {
      args = requestArgs(request);
    } catch {
      return WRITE; // not a request the framer would cut; the service answers it with its own error
    }
    if (!args.length) return WRITE;
    const reason = this.table.refusal(args);
    // A refused command inside MULTI is answered with the error and left out of the block (Redis
    // would abort the whole transaction at EXEC; VCL cannot tell the replica to, see README).
    if (reason) return { kind: 'refuse', reason };
    const name = commandName(args);
    if (name === 'MULTI') this.inTransaction = true;
    else if (name === 'EXEC' || name === 'DISCARD' || name === 'RESET') {
      this.inTransaction = false;
      return WRITE;
    }
    if (this.inTransaction) return WRITE;
    return this.table.isRead(args) ? READ : WRITE;
  }
}
