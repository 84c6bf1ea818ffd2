import { HTTP_DEFAULTS, resolveHttpOptions } from './options';
import { HttpSubstrate } from './http-substrate';

const req = (method: string): Uint8Array => new TextEncoder().encode(`${method} /x?y=1 HTTP/1.1\r\nHost: a\r\n\r\n`);

describe('the HTTP planner', () => {
  it('pipelines, and marks GET, HEAD and OPTIONS as reads and everything else as writes by default', () => {
    const s = new HttpSubstrate(HTTP_DEFAULTS);
    expect(s.execution.pipelining).toBe(true);
    const planner = s.execution.planner!();
    expect(['GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'DELETE', 'PATCH'].map((m) => planner.plan(req(m)).kind)).toEqual([
      'read',
      'read',
      'read',
      'write',
      'write',
      'write',
      'write',
    ]);
    // A request line it cannot read is a write (applied everywhere: never wrong, only slower).
    expect(planner.plan(new TextEncoder().encode('garbage'))).toEqual({ kind: 'write' });
  });

  it('takes the read methods from the stack (readMethods), and [] makes every request a write', () => {
    const custom = new HttpSubstrate(resolveHttpOptions({ readMethods: ['GET', 'PROPFIND'] })).execution.planner!();
    expect(['GET', 'HEAD', 'PROPFIND'].map((m) => custom.plan(req(m)).kind)).toEqual(['read', 'write', 'read']);
    const none = new HttpSubstrate(resolveHttpOptions({ readMethods: [] })).execution.planner!();
    expect(none.plan(req('GET'))).toEqual({ kind: 'write' });
    expect(() => resolveHttpOptions({ readMethods: ['GET /'] })).toThrow(/readMethods.*HTTP method token/);
  });
});
