import 'reflect-metadata';
import { container } from 'tsyringe';
import {
  AuthorizationError,
  FramingError,
  MessageTooLargeError,
  OptionsError,
  resolve,
  resolveAll,
  SUBSTRATE,
  UnavailableError,
  UnreplicableRequestError,
  VclError,
} from '@vcl/core';
import { registration, resp, RESP_DEFAULTS, RESP_OPTIONS, RespSubstrate, resolveRespOptions } from './index';

const text = (b: Uint8Array | undefined): string => Buffer.from(b ?? []).toString('utf8');
const substrate = new RespSubstrate(resolveRespOptions(undefined));

describe('resp plugin', () => {
  it('registers the substrate under SUBSTRATE and its options, with the defaults filled in', () => {
    const child = container.createChildContainer();
    resp({ allow: ['TIME'] }).register(child);
    const [s] = resolveAll(child, SUBSTRATE);
    expect([s?.name, s?.pattern, s?.execution?.pipelining]).toEqual(['resp', 'request-response', true]);
    expect(resolve(child, RESP_OPTIONS)).toEqual({ ...RESP_DEFAULTS, allow: ['TIME'] });
  });

  it('documents its defaults', () => {
    expect(RESP_DEFAULTS).toEqual({
      maxRequestBytes: 512 * 1024,
      maxReplyBytes: 64 * 1024 * 1024,
      allow: [],
      reads: [],
      writes: [],
      pipelining: true,
      noDelay: true,
      connectTimeoutMs: 5000,
      lingerMs: 1000,
    });
  });

  it('rejects bad options, naming each', () => {
    expect(registration).toMatchObject({ kind: 'substrate', name: 'resp', packageName: '@vcl/substrate-resp' });
    expect(() => registration.create({ maxRequestBytes: 0 })).toThrow(OptionsError);
    expect(() => registration.create({ allow: ['GET; DROP'] })).toThrow(/allow/);
    expect(() => registration.create({ readz: ['GET'] })).toThrow(/readz/);
  });

  it('the stack options reach the planner: allow, reads, writes, pipelining', () => {
    const s = new RespSubstrate(resolveRespOptions({ allow: ['TIME'], writes: ['GET'], pipelining: false }));
    const planner = s.execution.planner?.();
    expect(planner?.plan(Buffer.from('TIME\r\n')).kind).toBe('write');
    expect(planner?.plan(Buffer.from('GET k\r\n')).kind).toBe('write');
    expect(s.execution.pipelining).toBe(false);
    expect(substrate.execution.planner?.().plan(Buffer.from('TIME\r\n')).kind).toBe('refuse');
  });
});

describe('RespSubstrate.errorResponse', () => {
  it('answers a refused command with -ERR VCL: <command> cannot be replicated: <reason>', () => {
    const plan = substrate.execution.planner?.().plan(Buffer.from('SPOP s\r\n'));
    const reason = plan?.kind === 'refuse' ? plan.reason : '';
    expect(text(substrate.errorResponse(new UnreplicableRequestError(reason)))).toMatch(
      /^-ERR VCL: SPOP cannot be replicated: it removes a random member[^\r\n]*\r\n$/,
    );
  });

  it('answers other failures with RESP errors a client understands, on one line', () => {
    expect(text(substrate.errorResponse(new FramingError('request: bad\r\nlength')))).toBe(
      '-ERR Protocol error: request: bad length\r\n',
    );
    expect(text(substrate.errorResponse(new MessageTooLargeError('request longer than 10')))).toBe(
      '-ERR Protocol error: request longer than 10\r\n',
    );
    expect(text(substrate.errorResponse(new AuthorizationError('no rule allows FLUSHALL')))).toBe(
      '-NOPERM VCL: no rule allows FLUSHALL\r\n',
    );
    expect(text(substrate.errorResponse(new UnavailableError('no member')))).toBe('-ERR VCL: no member\r\n');
  });

  it('each error reply is exactly one reply message', () => {
    const framer = substrate.responseFramer();
    expect(
      framer.push(substrate.errorResponse(new UnreplicableRequestError('X cannot be replicated: y'))),
    ).toHaveLength(1);
    expect(framer.buffered).toBe(0);
  });
});

describe('RespSubstrate.describeRequest (what an access policy sees of a request)', () => {
  it('gives the command name, not its keys or values', () => {
    expect(substrate.describeRequest(Buffer.from('*3\r\n$3\r\nset\r\n$1\r\nk\r\n$1\r\nv\r\n'))).toEqual({
      command: ['SET'],
    });
    expect(substrate.describeRequest(Buffer.from('client kill id 4\r\n'))).toEqual({ command: ['CLIENT', 'KILL'] });
  });

  it('throws a VclError for bytes that are not a request', () => {
    expect(() => substrate.describeRequest(Buffer.from('*2\r\n$3\r\nGET\r\n'))).toThrow(VclError);
  });
});
