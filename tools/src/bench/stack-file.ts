// Stack files for the deployments `npm run bench` and `npm run chaos` start on loopback.

/** One member's ports. */
export interface LoopbackMember {
  /** Member id (`n1`). */
  readonly id: string;
  /** Member<->member port. */
  readonly port: number;
  /** Port client-side interceptors connect to. */
  readonly clientPort: number;
  /** Admin endpoint port; none when absent. */
  readonly adminPort?: number;
  /** The member's own replica of the real service. */
  readonly servicePort: number;
}

/** What goes into a generated stack file. */
export interface LoopbackStack {
  /** Group name. */
  readonly name: string;
  /** The members. */
  readonly members: readonly LoopbackMember[];
  /** Ordering plugin short name. */
  readonly ordering: string;
  /** Ordering plugin options; none means the plugin's defaults. */
  readonly orderingOptions?: Readonly<Record<string, number>>;
  /** TCP substrate framing. */
  readonly framing: 'raw' | 'line' | 'length-prefixed';
  /** `sessions:` of the substrate (required by a `raw` stream); default none (the key is left out). */
  readonly sessions?: 'one-at-a-time' | 'isolated';
  /** Where `vcl client` listens. */
  readonly clientPort: number;
  /** `service.recovery`; default none (the key is left out). */
  readonly recovery?: 'none' | 'replay' | 'snapshot';
  /** `service.dataDir` (the replay log lives there); default none. */
  readonly dataDir?: string;
  /** `service.resetCommand` (argv); default none. */
  readonly resetCommand?: readonly string[];
  /** `service.snapshot` save and load commands (argv each); default none. */
  readonly snapshot?: { readonly save: readonly string[]; readonly load: readonly string[] };
  /** `service.replayLog.maxBytes` (replay: compact the log at this size); default the loader's. */
  readonly replayLogMaxBytes?: number;
  /** `timeouts:` values; default the loader's. */
  readonly timeouts?: Readonly<Record<string, number>>;
  /** `client.failoverTimeoutMs`; default 15000. */
  readonly failoverTimeoutMs?: number;
}

const flow = (o: Readonly<Record<string, number>>): string =>
  `{ ${Object.entries(o)
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ')} }`;

/** The YAML text of a stack file for `s` (every address on 127.0.0.1). */
export function stackYaml(s: LoopbackStack): string {
  const members = s.members
    .map(
      (m) =>
        `    - { id: ${m.id}, host: 127.0.0.1, port: ${m.port}, clientPort: ${m.clientPort}` +
        `${m.adminPort ? `, adminPort: ${m.adminPort}` : ''} }`,
    )
    .join('\n');
  const lines = [
    'group:',
    `  name: ${s.name}`,
    '  members:',
    members,
    'ordering:',
    `  plugin: ${s.ordering}`,
    ...(s.orderingOptions ? [`  options: ${flow(s.orderingOptions)}`] : []),
    `substrate: { plugin: tcp, options: { framing: ${s.framing} }${s.sessions ? `, sessions: ${s.sessions}` : ''} }`,
    'service:',
    `  endpoint: { host: 127.0.0.1, port: ${s.members[0]!.servicePort} }`,
    ...(s.recovery ? [`  recovery: ${s.recovery}`] : []),
    ...(s.dataDir ? [`  dataDir: ${JSON.stringify(s.dataDir)}`] : []),
    ...(s.resetCommand ? [`  resetCommand: ${JSON.stringify(s.resetCommand)}`] : []),
    ...(s.snapshot
      ? [`  snapshot: { save: ${JSON.stringify(s.snapshot.save)}, load: ${JSON.stringify(s.snapshot.load)} }`]
      : []),
    ...(s.replayLogMaxBytes !== undefined ? [`  replayLog: { maxBytes: ${s.replayLogMaxBytes} }`] : []),
    'client:',
    `  listen: { host: 127.0.0.1, port: ${s.clientPort} }`,
    `  failoverTimeoutMs: ${s.failoverTimeoutMs ?? 15000}`,
    ...(s.timeouts ? [`timeouts: ${flow(s.timeouts)}`] : []),
  ];
  return `${lines.join('\n')}\n`;
}
