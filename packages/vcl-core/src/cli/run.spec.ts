import { runCli, type CliIo } from './run';
import { COMMANDS } from './usage';

function captureIo(): CliIo & { readonly outText: () => string; readonly errText: () => string } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out: (t) => void out.push(t),
    err: (t) => void err.push(t),
    stopSignal: () => new Promise(() => undefined),
    outText: () => out.join(''),
    errText: () => err.join(''),
  };
}

describe('vcl help', () => {
  it.each([[[]], [['--help']], [['-h']], [['help']]])('vcl %j prints every command and exits 0', async (argv) => {
    const io = captureIo();
    expect(await runCli(argv, io)).toBe(0);
    for (const name of Object.keys(COMMANDS)) expect(io.outText()).toMatch(new RegExp(`^  ${name}\\s`, 'm'));
    expect(io.errText()).toBe('');
  });

  it.each(Object.keys(COMMANDS).filter((c) => c !== 'help'))(
    "vcl %s --help prints that command's usage and exits 0 without a stack file",
    async (command) => {
      const io = captureIo();
      expect(await runCli([command, '--help'], io)).toBe(0);
      expect(io.outText()).toMatch(new RegExp(`^usage: vcl ${command} `));
      expect(io.outText()).toMatch(/--config <file>/);
      const viaHelp = captureIo();
      expect(await runCli(['help', command], viaHelp)).toBe(0);
      expect(viaHelp.outText()).toBe(io.outText());
    },
  );

  it('vcl service --help lists --member', async () => {
    const io = captureIo();
    expect(await runCli(['service', '--help'], io)).toBe(0);
    expect(io.outText()).toMatch(/--member <id>/);
  });

  it('an unknown command, with or without --help, exits 2 and names it', async () => {
    for (const argv of [
      ['frobnicate', '--help'],
      ['help', 'frobnicate'],
      ['frobnicate', '--config', 'x.yaml'],
    ]) {
      const io = captureIo();
      expect(await runCli(argv, io)).toBe(2);
      expect(io.errText()).toMatch(/unknown command "frobnicate"/);
    }
  });

  it("a missing --config still exits 2 with the command's usage", async () => {
    const io = captureIo();
    expect(await runCli(['check'], io)).toBe(2);
    expect(io.errText()).toMatch(/--config <stack file> is required[\s\S]*usage: vcl check/);
  });
});
