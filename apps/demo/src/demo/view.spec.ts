import { RateMeter, TerminalView, progressBar, renderLive, renderPlain, type ViewState } from './view';

const base: ViewState = {
  title: 'ordering=sequencer, 3 replicas',
  elapsedMs: 12345,
  members: [
    { id: 'n1', status: 'killed' },
    { id: 'n2', status: 'up' },
    { id: 'n3', status: 'up' },
  ],
  view: { id: 4, members: ['n2', 'n3'] },
  serving: ['n2'],
  progress: { done: 1520, total: 4000, phase: 'running' },
  ratePerSec: 411.6,
  clientErrors: 0,
  expectedErrors: 51,
  maxLatencyMs: 523.4,
  failovers: 1,
  logDir: '/tmp/vcl-demo-x',
};

describe('progressBar', () => {
  it('fills in proportion and clamps', () => {
    expect(progressBar(0, 10, 10)).toBe(`[${'░'.repeat(10)}]`);
    expect(progressBar(5, 10, 10)).toBe(`[${'█'.repeat(5)}${'░'.repeat(5)}]`);
    expect(progressBar(20, 10, 10)).toBe(`[${'█'.repeat(10)}]`);
    expect(progressBar(0, 0, 4)).toBe('[████]');
  });
});

describe('renderLive', () => {
  it('shows members, the view, the serving member, rate, errors, progress and the last events', () => {
    const events = Array.from({ length: 10 }, (_, i) => ({ atMs: i * 1000, text: `event ${i}` }));
    const lines = renderLive(base, events, false);
    expect(lines[0]).toBe('VCL demo: ordering=sequencer, 3 replicas   12.3s');
    expect(lines[1]).toBe('members   ✗ n1 killed   ● n2 up ◀ client   ● n3 up');
    expect(lines[2]).toBe('view      #4 [n2 n3]');
    expect(lines[3]).toContain(
      'served by n2 · 412 req/s · client errors 0 · expected errors 51 · max latency 523 ms · fail-overs 1',
    );
    expect(lines[4]).toMatch(/^progress {2}\[█{11}░{19}\] 1520\/4000 38% running$/);
    expect(lines).toContain('     9.0s  event 9');
    expect(lines).toContain('     2.0s  event 2');
    expect(lines).not.toContain('     1.0s  event 1');
    expect(lines[lines.length - 1]).toBe('logs      /tmp/vcl-demo-x');
  });

  it('colors only when asked, and says what is not known yet', () => {
    const lines = renderLive({ ...base, view: undefined, serving: [], clientErrors: 2 }, [], true);
    expect(lines.join('\n')).toContain('\x1b[31mclient errors 2');
    expect(lines[2]).toContain('(not known yet)');
    expect(lines[3]).toContain('not connected');
    expect(renderLive(base, [], false).join('')).not.toContain('\x1b');
  });
});

describe('renderPlain', () => {
  it('puts the progress on one line', () => {
    expect(renderPlain(base)).toBe(
      'demo: 12.3s running 1520/4000 412 req/s client_errors=0 max_latency=523ms serving=n2 view=#4[n2,n3]',
    );
    expect(renderPlain({ ...base, view: undefined, serving: [] })).not.toContain('view=');
  });
});

describe('RateMeter', () => {
  it('measures the rate over the sliding window', () => {
    const m = new RateMeter(1000);
    expect(m.sample(0, 0)).toBe(0);
    expect(m.sample(500, 100)).toBe(200);
    expect(m.sample(1000, 300)).toBe(300);
    expect(m.sample(2000, 300)).toBe(0);
    // The oldest sample kept is the last one at or before the window's start (here 1000 ms).
    expect(m.sample(2500, 400)).toBeCloseTo(100 / 1.5);
    expect(m.sample(3000, 500)).toBe(200);
  });
});

describe('TerminalView', () => {
  const sink = (): { text: string; write(t: string): void } => ({
    text: '',
    write(t: string) {
      this.text += t;
    },
  });

  it('plain mode prints events at once and progress lines on each tick', async () => {
    const out = sink();
    const v = new TerminalView(out, false, () => base, 20);
    v.start();
    v.event('killed n1');
    expect(out.text).toBe('demo: 12.3s killed n1\n');
    await new Promise((r) => setTimeout(r, 70));
    v.stop();
    expect(out.text).toContain(`${renderPlain(base)}\n`);
    expect(out.text).not.toContain('\x1b');
    expect(v.history).toEqual([{ atMs: 12345, text: 'killed n1' }]);
  });

  it('live mode redraws in place, prints permanent lines above the frame and restores the cursor', () => {
    const out = sink();
    const v = new TerminalView(out, true, () => base, 1000);
    v.start();
    expect(out.text.startsWith('\x1b[?25l')).toBe(true);
    const height = renderLive(base, []).length;
    v.print('hello');
    expect(out.text).toContain(`\x1b[${height}F\x1b[Jhello\n`);
    v.event('killed n1');
    v.stop();
    v.stop();
    expect(out.text.endsWith('\x1b[?25h')).toBe(true);
    expect(out.text.split('\x1b[?25h')).toHaveLength(2);
    expect(out.text).toContain('killed n1');
  });
});
