import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { MalformedLogError } from './errors';
import { MemberLogTail, parseMemberLog } from './member-log';

const line = (o: object) => `${JSON.stringify(o)}\n`;

describe('member event logs', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'vcl-log-spec-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('parses complete lines and sets aside the partial last line a SIGKILL leaves', () => {
    const text =
      line({ type: 'view', t: 1, id: 1, members: ['n1'], primary: true, cut: 0 }) +
      line({ type: 'deliver', t: 2, seq: 1, view: 1, sender: 'n1', id: 'n1#1:1' }) +
      '{"type":"deliver","t":3,"se';
    const { events, partial } = parseMemberLog(text);
    expect(events.map((e) => e.type)).toEqual(['view', 'deliver']);
    expect(partial).toBe('{"type":"deliver","t":3,"se');
  });

  it('rejects a complete line that is not a log event, naming the source and line', () => {
    expect(() =>
      parseMemberLog(`${line({ type: 'view', t: 1, id: 1, members: [], primary: true, cut: 0 })}oops\n`, 'n1.log'),
    ).toThrow(MalformedLogError);
    expect(() => parseMemberLog('oops\n', 'n1.log')).toThrow('n1.log:1: not JSON');
    expect(() => parseMemberLog(line({ type: 'dance', t: 1 }), 'n1.log')).toThrow('n1.log:1: not a member log event');
    expect(() => parseMemberLog(line({ type: 'view' }), 'n1.log')).toThrow('n1.log:1: not a member log event');
  });

  it('tails a growing file: only complete lines, a split line (even mid-character) completed on a later read', () => {
    const file = path.join(dir, 'n1.events.jsonl');
    const tail = new MemberLogTail(file);
    expect(tail.read()).toEqual([]); // not created yet
    const rejected = line({ type: 'rejected', t: 5, id: 'n1#1:1', error: 'StoppedError: arrêté' });
    const bytes = Buffer.from(rejected);
    const cut = bytes.indexOf(Buffer.from('ê')) + 1; // inside the two-byte character
    appendFileSync(file, line({ type: 'running', t: 4 }));
    appendFileSync(file, bytes.subarray(0, cut));
    expect(tail.read().map((e) => e.type)).toEqual(['running']);
    expect(tail.partial.length).toBeGreaterThan(0);
    appendFileSync(file, bytes.subarray(cut));
    const [event] = tail.read();
    expect(event).toEqual({ type: 'rejected', t: 5, id: 'n1#1:1', error: 'StoppedError: arrêté' });
    expect(tail.partial).toBe('');
    expect(tail.read()).toEqual([]);
  });

  it('names the file and line of a malformed line when tailing', () => {
    const file = path.join(dir, 'n2.events.jsonl');
    const tail = new MemberLogTail(file);
    appendFileSync(file, line({ type: 'running', t: 1 }) + line({ type: 'listening', t: 2 }) + 'garbage\n');
    expect(() => tail.read()).toThrow(`${file}:3: not JSON`);
  });
});
