import { ConfigError } from '../errors';
import { createLogger, silentLogger } from './logger';

function capture(): { lines: Array<Record<string, unknown>>; write(line: string): void } {
  const lines: Array<Record<string, unknown>> = [];
  return { lines, write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) };
}

describe('createLogger', () => {
  const saved = process.env['VCL_LOG_LEVEL'];
  afterEach(() => {
    if (saved === undefined) delete process.env['VCL_LOG_LEVEL'];
    else process.env['VCL_LOG_LEVEL'] = saved;
  });

  it('writes structured lines with the name and child bindings, at info by default', () => {
    delete process.env['VCL_LOG_LEVEL'];
    const out = capture();
    const logger = createLogger({ name: 'vcl-test', destination: out });
    logger.debug({ skipped: true }, 'not written');
    logger.child({ member: 'n1' }).info({ view: 3 }, 'view installed');
    expect(out.lines).toHaveLength(1);
    expect(out.lines[0]).toMatchObject({ level: 30, name: 'vcl-test', member: 'n1', view: 3, msg: 'view installed' });
  });

  it('takes the level from VCL_LOG_LEVEL, and options override it', () => {
    process.env['VCL_LOG_LEVEL'] = 'warn';
    const out = capture();
    const fromEnv = createLogger({ destination: out });
    fromEnv.info({}, 'dropped');
    fromEnv.warn({}, 'kept');
    createLogger({ level: 'debug', destination: out }).debug({}, 'kept too');
    expect(out.lines.map((l) => l['msg'])).toEqual(['kept', 'kept too']);
  });

  it('rejects an unknown level with a ConfigError naming the levels', () => {
    process.env['VCL_LOG_LEVEL'] = 'loud';
    expect(() => createLogger()).toThrow(ConfigError);
    expect(() => createLogger()).toThrow('VCL_LOG_LEVEL: unknown log level "loud"; expected one of trace, debug');
  });
});

describe('silentLogger', () => {
  it('accepts every call and its children are silent too', () => {
    const logger = silentLogger();
    logger.error({ x: 1 }, 'nothing');
    expect(logger.child({ member: 'n1' })).toBe(logger);
  });
});
