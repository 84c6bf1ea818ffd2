/** One `vcl` command's usage: its synopsis line and its flag lines. */
interface CommandUsage {
  /** `vcl <command> ...` line. */
  readonly synopsis: string;
  /** What it does, one line. */
  readonly summary: string;
  /** Its own flags, one per line. */
  readonly flags: readonly string[];
}

/** Every `vcl` command and its usage, in the order `vcl --help` lists them. */
export const COMMANDS: Readonly<Record<string, CommandUsage>> = {
  service: {
    synopsis: 'vcl service --config stack.yaml --member <id> [flags]',
    summary: 'run one service-side interceptor (a group member)',
    flags: [
      '--member <id>                  the member to run (group.members[].id)',
      '--service-endpoint host:port   dial the local service here instead of service.endpoint',
    ],
  },
  client: {
    synopsis: 'vcl client --config stack.yaml [flags]',
    summary: 'run the client-side interceptors: one per substrate, each on its listen address',
    flags: [
      "--substrate <name>             only this substrate (substrates[].name, default its plugin's)",
      '--listen host:port             accept clients here instead of client.listen (one substrate)',
      "--token-file <file>            this client's token instead of aaa.client.tokenFile",
    ],
  },
  status: {
    synopsis: 'vcl status --config stack.yaml [--json]',
    summary: 'view, sequencer or token holder, sessions and cache sizes of every member',
    flags: ["--json                         print the members' /status answers as JSON"],
  },
  check: {
    synopsis: 'vcl check --config stack.yaml',
    summary: "validate the stack file and its plugins' options, start nothing",
    flags: [],
  },
  local: {
    synopsis: 'vcl local --config stack.yaml [--service-endpoints n1=host:port,...] [--only-members]',
    summary: 'start every member of an all-local stack and its vcl client, with one merged log',
    flags: [
      '--service-endpoints <list>     per member, the local service it dials (n1=127.0.0.1:7401,...)',
      '--only-members                 start the members but no vcl client',
    ],
  },
  help: { synopsis: 'vcl help [command]', summary: "this text, or one command's", flags: [] },
};

const COMMON = [
  '--config <file>                the stack file (required)',
  '--log-level <level>            trace, debug, info, warn, error or silent (default: VCL_LOG_LEVEL or info)',
  "--help                         this command's usage",
];

/** The usage text of `vcl`, or of one of its commands. */
export function usage(command?: string): string {
  const c = command !== undefined ? COMMANDS[command] : undefined;
  if (c)
    return [
      `usage: ${c.synopsis}`,
      '',
      c.summary,
      '',
      'flags:',
      ...[...c.flags, ...(command === 'help' ? [] : COMMON)].map((f) => `  ${f}`),
      '',
    ].join('\n');
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  return [
    'usage: vcl <command> --config stack.yaml [flags]',
    '',
    'commands:',
    ...Object.entries(COMMANDS).map(([name, u]) => `  ${name.padEnd(width)}  ${u.summary}`),
    '',
    'flags for every command:',
    ...COMMON.map((f) => `  ${f}`),
    '',
    '`vcl <command> --help` shows its flags; docs: README.md "Quick start", docs/production.md.',
    '',
  ].join('\n');
}
