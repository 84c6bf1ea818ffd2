/** What a member (or a plain metadata server in direct mode) is doing, as the view shows it. */
export type MemberStatus = 'starting' | 'up' | 'killed' | 'restarting' | 'down';

/** One row of the members line. */
export interface MemberView {
  /** Member id (`n1`) or server name (`mds1`). */
  readonly id: string;
  /** Its state. */
  readonly status: MemberStatus;
}

/** One event of the run (start, kill, fail-over, restart), with its time since the start. */
export interface DemoEvent {
  /** Milliseconds since the demo started. */
  readonly atMs: number;
  /** What happened. */
  readonly text: string;
}

/** Everything the view shows; the orchestrator fills it, the view only renders it. */
export interface ViewState {
  /** First line: what runs (`ordering=sequencer, 3 replicas`). */
  readonly title: string;
  /** Milliseconds since the demo started. */
  readonly elapsedMs: number;
  /** The members (or servers), in order. */
  readonly members: readonly MemberView[];
  /** The current view of the group, when known. */
  readonly view?: { readonly id: number; readonly members: readonly string[] };
  /** The members serving the client's sessions (empty when not known). */
  readonly serving: readonly string[];
  /** Workload progress: operations answered of planned, and the phase. */
  readonly progress: { readonly done: number; readonly total: number; readonly phase: string };
  /** Answers per second over the last second. */
  readonly ratePerSec: number;
  /** Client-visible errors so far. */
  readonly clientErrors: number;
  /** Error answers the clients predicted (EEXIST, ENOENT, EBADREQ for malformed lines, ...). */
  readonly expectedErrors: number;
  /** Longest time a request waited for its answer so far, ms. */
  readonly maxLatencyMs: number;
  /** Fail-overs seen so far. */
  readonly failovers: number;
  /** Where the logs are. */
  readonly logDir: string;
}

const COLOR = {
  green: '\x1b[32m',
  red: '\x1b[31m',
  yellow: '\x1b[33m',
  dim: '\x1b[2m',
  bold: '\x1b[1m',
  off: '\x1b[0m',
};
const STATUS_COLOR: Record<MemberStatus, string> = {
  starting: COLOR.yellow,
  up: COLOR.green,
  killed: COLOR.red,
  restarting: COLOR.yellow,
  down: COLOR.red,
};

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/** A progress bar of `width` cells for `done` of `total`. */
export function progressBar(done: number, total: number, width = 30): string {
  const share = total > 0 ? Math.min(1, done / total) : 1;
  const full = Math.round(share * width);
  return `[${'█'.repeat(full)}${'░'.repeat(width - full)}]`;
}

/** The live view as lines (without newlines); `color` adds ANSI colors. */
export function renderLive(state: ViewState, events: readonly DemoEvent[], color = true): string[] {
  const c = (code: string, text: string): string => (color ? `${code}${text}${COLOR.off}` : text);
  const members = state.members
    .map((m) => {
      const mark = m.status === 'up' ? '●' : m.status === 'killed' || m.status === 'down' ? '✗' : '○';
      const serving = state.serving.includes(m.id) ? c(COLOR.bold, ' ◀ client') : '';
      return `${c(STATUS_COLOR[m.status], `${mark} ${m.id} ${m.status}`)}${serving}`;
    })
    .join('   ');
  const { done, total, phase } = state.progress;
  const pct = total > 0 ? Math.floor((100 * Math.min(done, total)) / total) : 100;
  const errors =
    state.clientErrors === 0 ? c(COLOR.green, 'client errors 0') : c(COLOR.red, `client errors ${state.clientErrors}`);
  const lines = [
    c(COLOR.bold, `VCL demo: ${state.title}`) + c(COLOR.dim, `   ${seconds(state.elapsedMs)}`),
    `members   ${members}`,
    `view      ${state.view ? `#${state.view.id} [${state.view.members.join(' ')}]` : c(COLOR.dim, '(not known yet)')}`,
    `client    ${state.serving.length ? `served by ${state.serving.join(', ')}` : c(COLOR.dim, 'not connected')} · ${Math.round(state.ratePerSec)} req/s · ${errors} · expected errors ${state.expectedErrors} · max latency ${Math.round(state.maxLatencyMs)} ms · fail-overs ${state.failovers}`,
    `progress  ${progressBar(done, total)} ${Math.min(done, total)}/${total} ${pct}% ${phase}`,
    'events',
    ...events.slice(-8).map((e) => `  ${seconds(e.atMs).padStart(7)}  ${e.text}`),
    c(COLOR.dim, `logs      ${state.logDir}`),
  ];
  return lines;
}

/** One plain progress line (for `--no-tty` and non-terminal output). */
export function renderPlain(state: ViewState): string {
  const { done, total, phase } = state.progress;
  const view = state.view ? ` view=#${state.view.id}[${state.view.members.join(',')}]` : '';
  return (
    `demo: ${seconds(state.elapsedMs)} ${phase} ${Math.min(done, total)}/${total} ${Math.round(state.ratePerSec)} req/s` +
    ` client_errors=${state.clientErrors} max_latency=${Math.round(state.maxLatencyMs)}ms` +
    `${state.serving.length ? ` serving=${state.serving.join(',')}` : ''}${view}`
  );
}

/** Answers per second over a sliding window, from samples of a growing counter. */
export class RateMeter {
  private readonly samples: Array<{ at: number; count: number }> = [];

  constructor(private readonly windowMs = 1000) {}

  /** Records the counter's value at time `at` (ms) and returns the rate over the window, per second. */
  sample(at: number, count: number): number {
    this.samples.push({ at, count });
    while (this.samples.length > 2 && this.samples[1]!.at <= at - this.windowMs) this.samples.shift();
    const first = this.samples[0]!;
    const span = at - first.at;
    return span > 0 ? ((count - first.count) * 1000) / span : 0;
  }
}

/** Where the view writes: a terminal (with `columns`) or any stream. */
export interface ViewOutput {
  write(text: string): unknown;
}

/**
 * Shows the run in the terminal. Live mode redraws a frame in place (about 10 times a second);
 * plain mode prints a progress line every second. Both print each event once, as it happens
 * (plain mode as a line, live mode inside the frame), and `print` puts a permanent line above
 * the frame.
 */
export class TerminalView {
  private readonly events: DemoEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private height = 0;

  constructor(
    private readonly out: ViewOutput,
    private readonly live: boolean,
    private readonly state: () => ViewState,
    private readonly frameMs = live ? 100 : 1000,
  ) {}

  /** Every event so far. */
  get history(): readonly DemoEvent[] {
    return this.events;
  }

  /** Starts redrawing (live) or printing progress lines (plain). */
  start(): void {
    if (this.live) this.out.write('\x1b[?25l');
    this.timer = setInterval(() => this.tick(), this.frameMs);
    this.timer.unref();
    if (this.live) this.draw();
  }

  /** Records an event; plain mode prints it at once. */
  event(text: string): void {
    const e = { atMs: this.state().elapsedMs, text };
    this.events.push(e);
    if (!this.live) this.out.write(`demo: ${seconds(e.atMs)} ${text}\n`);
    else if (this.timer) this.draw();
  }

  /** Prints a permanent line (above the live frame). */
  print(text: string): void {
    if (this.live && this.timer) {
      this.clear();
      this.out.write(`${text}\n`);
      this.draw();
    } else this.out.write(`${text}\n`);
  }

  /** Draws the last frame (live) and stops; restores the cursor. Safe to call twice. */
  stop(): void {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.live) {
      this.draw();
      this.out.write('\x1b[?25h');
    }
  }

  private tick(): void {
    if (this.live) this.draw();
    else this.out.write(`${renderPlain(this.state())}\n`);
  }

  private clear(): void {
    if (this.height > 0) this.out.write(`\x1b[${this.height}F\x1b[J`);
    this.height = 0;
  }

  private draw(): void {
    const lines = renderLive(this.state(), this.events);
    const up = this.height > 0 ? `\x1b[${this.height}F` : '';
    this.out.write(`${up}${lines.map((l) => `\x1b[2K${l}`).join('\n')}\n\x1b[J`);
    this.height = lines.length;
  }
}
