import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AuthenticationError, ConfigError } from '@vcl/core';
import { parseTokens, tlsClientAuthenticator, tokenAuthenticator } from './token';

const peer = { kind: 'client' as const, address: '127.0.0.1:5000' };
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('tokenAuthenticator', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vcl-aaa-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  function tokensFile(content: string, mode = 0o600): string {
    const f = path.join(dir, 'tokens.yaml');
    fs.writeFileSync(f, content);
    fs.chmodSync(f, mode);
    return f;
  }

  it('maps each token in the file to its principal', async () => {
    const auth = tokenAuthenticator({
      tokensFile: tokensFile('# clients\nalice: alice-secret-0123456789\n\nbob: "bob-secret-0123456789"\n'),
    });
    await expect(auth.authenticate(peer, bytes('alice-secret-0123456789'))).resolves.toEqual({
      id: 'alice',
      kind: 'client',
    });
    await expect(auth.authenticate(peer, bytes('bob-secret-0123456789'))).resolves.toEqual({
      id: 'bob',
      kind: 'client',
    });
  });

  it('refuses a client with no token or a bad one with AuthenticationError', async () => {
    const auth = tokenAuthenticator({ tokens: { alice: 'alice-secret-0123456789' } });
    await expect(auth.authenticate(peer)).rejects.toThrow(AuthenticationError);
    await expect(auth.authenticate(peer, new Uint8Array())).rejects.toThrow('client 127.0.0.1:5000 presented no token');
    await expect(auth.authenticate(peer, bytes('alice-secret-012345678'))).rejects.toThrow(
      'client 127.0.0.1:5000 presented an unknown token',
    );
    await expect(auth.authenticate(peer, bytes('alice-secret-0123456789x'))).rejects.toThrow(AuthenticationError);
  });

  it('refuses a readable tokens file and malformed lines', () => {
    expect(() => tokenAuthenticator({ tokensFile: tokensFile('alice: alice-secret-0123456789\n', 0o644) })).toThrow(
      /readable by group or others/,
    );
    let err: unknown;
    try {
      parseTokens('alice alice-secret\nbob: short\nalice: x-0123456789abcdef\nalice: y-0123456789abcdef\n', 't.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
      'line 1: expected "principal: token"',
      'line 2: token of bob is shorter than 16 characters',
      'line 4: principal alice appears twice',
    ]);
  });
});

describe('tlsClientAuthenticator', () => {
  it('takes the principal from the verified certificate identity, mapped when configured', async () => {
    const plain = tlsClientAuthenticator();
    await expect(plain.authenticate({ ...peer, tlsIdentity: 'alice' })).resolves.toEqual({
      id: 'alice',
      kind: 'client',
    });
    const mapped = tlsClientAuthenticator({ identities: { 'ops.example.org': 'ops' } });
    await expect(mapped.authenticate({ ...peer, tlsIdentity: 'host1,ops.example.org' })).resolves.toEqual({
      id: 'ops',
      kind: 'client',
    });
  });

  it('refuses a client without a certificate', async () => {
    await expect(tlsClientAuthenticator().authenticate(peer)).rejects.toThrow(
      'client 127.0.0.1:5000 presented no verified certificate',
    );
  });
});
