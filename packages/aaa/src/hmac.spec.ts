import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  AuthenticationError,
  ConfigError,
  IntegrityError,
  type LinkFrame,
  type LinkHandshake,
  type LinkRole,
  type SecuredLink,
} from '@vcl/core';
import { HMAC_TAG_BYTES, hmacLinkSecurity } from './hmac';

const key = (c: string): Uint8Array => new Uint8Array(32).fill(c.charCodeAt(0));
const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const str = (b: Uint8Array): string => new TextDecoder().decode(b);

/** One end of an in-memory handshake channel; `tap` sees (and may rewrite) every message it sends. */
class End implements LinkHandshake {
  readonly inbox: Uint8Array[] = [];
  readonly sent: Uint8Array[] = [];
  private waiter: ((m: Uint8Array) => void) | undefined;
  other!: End;
  tap: (m: Uint8Array, i: number) => Uint8Array = (m) => m;
  readonly signal = new AbortController().signal;
  readonly peer;
  constructor(
    readonly role: LinkRole,
    readonly localId: string,
    readonly claimedId: string,
    readonly transcript: Uint8Array,
  ) {
    this.peer = { kind: 'member' as const, address: '127.0.0.1:1', claimedId };
  }
  send(message: Uint8Array): void {
    const m = this.tap(message.slice(), this.sent.length);
    this.sent.push(m);
    this.other.push(m);
  }
  push(m: Uint8Array): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w(m);
    } else this.inbox.push(m);
  }
  receive(): Promise<Uint8Array> {
    const m = this.inbox.shift();
    if (m) return Promise.resolve(m);
    return new Promise((r) => (this.waiter = r));
  }
}

function pair(transcript = text('hello-n1|hello-n2')): [End, End] {
  const d = new End('dialer', 'n1', 'n2', transcript);
  const a = new End('acceptor', 'n2', 'n1', transcript);
  d.other = a;
  a.other = d;
  return [d, a];
}

async function connect(kd: Uint8Array, ka: Uint8Array, ends = pair()): Promise<[SecuredLink, SecuredLink]> {
  const [d, a] = ends;
  return Promise.all([hmacLinkSecurity({ key: kd }).handshake(d), hmacLinkSecurity({ key: ka }).handshake(a)]);
}

const frame = (s: string, type = 1): LinkFrame => ({ type, flags: 0, body: text(s) });

describe('hmacLinkSecurity handshake', () => {
  it('authenticates both ends holding the same key and proves their ids', async () => {
    const [d, a] = await connect(key('k'), key('k'));
    expect([d.peerId, a.peerId]).toEqual(['n2', 'n1']);
    expect(str(a.open(d.seal(frame('hi'))).body)).toBe('hi');
    expect(str(d.open(a.seal(frame('back'))).body)).toBe('back');
  });

  it('refuses a peer with a different key, on both ends', async () => {
    const [d, a] = pair();
    const results = await Promise.allSettled([
      hmacLinkSecurity({ key: key('k') }).handshake(d),
      hmacLinkSecurity({ key: key('x') }).handshake(a),
    ]);
    for (const r of results) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(AuthenticationError);
    }
    expect(String((results[0] as PromiseRejectedResult).reason.message)).toBe(
      'hmac handshake: n2 did not prove the group key',
    );
  });

  it('refuses a recorded session replayed against a fresh nonce', async () => {
    // Record a genuine acceptor's messages, then replay them to a new dialer: its nonce is new,
    // so the recorded proof does not match.
    const recorded = pair();
    await connect(key('k'), key('k'), recorded);
    const [d, a] = pair();
    const dialer = hmacLinkSecurity({ key: key('k') }).handshake(d);
    for (const m of recorded[1].sent) d.push(m);
    void a;
    await expect(dialer).rejects.toThrow('hmac handshake: n2 did not prove the group key');
  });

  it('refuses a proof bound to other ids or another transcript', async () => {
    const [d] = pair(text('hello-n1|hello-n2'));
    const [, a] = pair(text('hello-n1|hello-n3'));
    d.other = a;
    a.other = d;
    const results = await Promise.allSettled([
      hmacLinkSecurity({ key: key('k') }).handshake(d),
      hmacLinkSecurity({ key: key('k') }).handshake(a),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });

  it('refuses its own nonce reflected back', async () => {
    const d = new End('dialer', 'n1', 'n2', text('t'));
    const mirror = new End('acceptor', 'x', 'n1', text('t'));
    d.other = mirror;
    mirror.other = d;
    d.tap = (m) => {
      queueMicrotask(() => d.push(m));
      return m;
    };
    await expect(hmacLinkSecurity({ key: key('k') }).handshake(d)).rejects.toThrow(/reflection/);
  });
});

describe('hmacLinkSecurity frames', () => {
  it('rejects a frame with one flipped bit anywhere (body, tag, type, flags)', async () => {
    const [d, a] = await connect(key('k'), key('k'));
    const sealed = d.seal(frame('payload'));
    for (let i = 0; i < sealed.body.length * 8; i += 7) {
      const body = sealed.body.slice();
      body[i >> 3]! ^= 1 << (i & 7);
      expect(() => a.open({ ...sealed, body })).toThrow(IntegrityError);
    }
    expect(() => a.open({ ...sealed, type: sealed.type ^ 1 })).toThrow(IntegrityError);
    expect(() => a.open({ ...sealed, flags: 1 })).toThrow(IntegrityError);
    expect(str(a.open(sealed).body)).toBe('payload');
  });

  it('rejects a replayed frame', async () => {
    const [d, a] = await connect(key('k'), key('k'));
    const f = d.seal(frame('once'));
    a.open(f);
    expect(() => a.open(f)).toThrow(/frame 1 from n1 failed its HMAC check/);
  });

  it('rejects reordered frames', async () => {
    const [d, a] = await connect(key('k'), key('k'));
    const f1 = d.seal(frame('1'));
    const f2 = d.seal(frame('2'));
    expect(() => a.open(f2)).toThrow(IntegrityError);
    expect(str(a.open(f1).body)).toBe('1');
  });

  it('rejects a dropped frame (the next one is out of sequence) and a truncated one', async () => {
    const [d, a] = await connect(key('k'), key('k'));
    d.seal(frame('lost'));
    expect(() => a.open(d.seal(frame('next')))).toThrow(IntegrityError);
    const [d2, a2] = await connect(key('k'), key('k'));
    const f = d2.seal(frame('truncate me'));
    expect(() => a2.open({ ...f, body: f.body.subarray(1) })).toThrow(IntegrityError);
    expect(() => a2.open({ ...f, body: f.body.subarray(0, HMAC_TAG_BYTES - 1) })).toThrow(/too short/);
  });

  it('rejects a frame sent back in the other direction or from another link', async () => {
    const [d, a] = await connect(key('k'), key('k'));
    const [, a2] = await connect(key('k'), key('k'));
    const f = d.seal(frame('x'));
    expect(() => d.open(f)).toThrow(IntegrityError);
    expect(() => a2.open(f)).toThrow(IntegrityError);
    expect(str(a.open(f).body)).toBe('x');
  });
});

describe('hmacLinkSecurity key file', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vcl-aaa-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, content: string, mode: number): string => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, content);
    fs.chmodSync(f, mode);
    return f;
  };

  it('reads a 0600 key file', async () => {
    const f = write('group.key', 'k'.repeat(40) + '\n', 0o600);
    const ends = pair();
    const [d, a] = await Promise.all([
      hmacLinkSecurity({ keyFile: f }).handshake(ends[0]),
      hmacLinkSecurity({ key: text('k'.repeat(40)) }).handshake(ends[1]),
    ]);
    expect(str(a.open(d.seal(frame('ok'))).body)).toBe('ok');
  });

  it('refuses a group/world-readable key file, naming the file and the fix', () => {
    const f = write('open.key', 'k'.repeat(40), 0o644);
    expect(() => hmacLinkSecurity({ keyFile: f })).toThrow(ConfigError);
    expect(() => hmacLinkSecurity({ keyFile: f })).toThrow(`${f} is readable by group or others (mode 0644)`);
    expect(() => hmacLinkSecurity({ keyFile: write('g.key', 'k'.repeat(40), 0o640) })).toThrow(/mode 0640/);
  });

  it('refuses a short key, a missing file and no key', () => {
    expect(() => hmacLinkSecurity({ keyFile: write('short.key', 'short', 0o600) })).toThrow(
      'group key is 5 bytes, needs at least 32',
    );
    expect(() => hmacLinkSecurity({ keyFile: path.join(dir, 'nope') })).toThrow(/cannot read .*nope/);
    expect(() => hmacLinkSecurity({})).toThrow(/needs a key file/);
  });
});
