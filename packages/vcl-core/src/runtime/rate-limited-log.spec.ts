import { Simulator } from '../testing/sim/simulator';
import { RecordingLogger } from '../testing/vcl/recording-logger';
import { RateLimitedLog } from './rate-limited-log';

describe('RateLimitedLog', () => {
  it('writes the first lines of a kind, then one line with the count per window', async () => {
    const sim = new Simulator({ seed: 1, members: ['a'] });
    const logger = new RecordingLogger();
    const log = new RateLimitedLog(logger, { clock: sim.clock, burst: 2, windowMs: 10_000 });
    for (let i = 0; i < 6284; i++) log.warn({ remote: `10.0.0.1:${i}` }, 'client link refused');
    log.warn({}, 'another kind');
    expect(logger.find('warn', 'client link refused')).toHaveLength(2);
    await sim.runFor(10_001);
    const lines = logger.find('warn', 'client link refused');
    expect(lines).toHaveLength(3);
    expect(lines[2]!.msg).toBe('client link refused … and 6,282 more in the last 10 s');
    expect(lines[2]!.fields).toMatchObject({ suppressed: 6282, remote: '10.0.0.1:6283' });
    expect(logger.find('warn', 'another kind')).toHaveLength(1);
    // A new window writes in full again.
    log.warn({}, 'client link refused');
    expect(logger.find('warn', 'client link refused')).toHaveLength(4);
  });

  it('flushes pending counts on demand', () => {
    const logger = new RecordingLogger();
    const log = new RateLimitedLog(logger, { burst: 1 });
    log.error({}, 'x');
    log.error({}, 'x');
    log.flush();
    expect(logger.find('error', 'x').map((l) => l.msg)).toEqual(['x', 'x … and 1 more in the last 10 s']);
  });
});
