import { describe, expect, it } from 'vitest';

import { parseBenchArgs, UsageError } from './cli-options.js';

describe('parseBenchArgs', () => {
  it('has the documented defaults', () => {
    expect(parseBenchArgs([], 2)).toEqual({
      servers: ['holdfast', 'prosody', 'ejabberd'],
      scenarios: ['throughput', 'resume', 'memory'],
      pairs: 20,
      durationS: 10,
      warmupS: 2,
      window: 100,
      workers: 2,
      sessions: 1000,
      queuedPerSession: 10,
      resumeSizes: [0, 100, 1000],
      resumeReps: 20,
      settleS: 10,
      expirySessions: 100_000,
      expirySpreadS: 180,
      timeouts: 2,
      cpuProf: false,
      withoutSessionState: false,
      projectionNice: 0,
      quick: false,
    });
  });

  it('runs expiry only when asked, with its own options', () => {
    expect(
      parseBenchArgs(
        [
          '--servers=holdfast',
          '--scenarios=expiry',
          '--expiry-sessions=500',
          '--expiry-spread=30',
          '--cpu-prof',
        ],
        2,
      ),
    ).toMatchObject({
      servers: ['holdfast'],
      scenarios: ['expiry'],
      expirySessions: 500,
      expirySpreadS: 30,
      timeouts: 2,
      cpuProf: true,
    });
    expect(parseBenchArgs(['--quick', '--scenarios=expiry', '--timeouts=1'], 2)).toMatchObject({
      expirySessions: 2000,
      expirySpreadS: 20,
      timeouts: 1,
    });
    expect(() => parseBenchArgs(['--timeouts=0'], 2)).toThrow(/--timeouts/);
    expect(parseBenchArgs(['--projection-nice=10'], 2)).toMatchObject({ projectionNice: 10 });
    expect(() => parseBenchArgs(['--projection-nice=0'], 2)).toThrow(/1 to 19/);
    expect(() => parseBenchArgs(['--projection-nice=-5'], 2)).toThrow(/1 to 19/);
  });

  it('takes --name=value and --name value, and --quick lowers the defaults', () => {
    const options = parseBenchArgs(
      [
        '--quick',
        '--servers=prosody,ejabberd',
        '--pairs',
        '8',
        '--resume-sizes=0,5',
        '--scenarios=memory,resume',
      ],
      16,
    );
    expect(options).toMatchObject({
      servers: ['prosody', 'ejabberd'],
      scenarios: ['resume', 'memory'],
      pairs: 8,
      durationS: 3,
      sessions: 100,
      resumeSizes: [0, 5],
      resumeReps: 3,
      workers: 4,
      quick: true,
    });
  });

  it('returns null for --help', () => {
    expect(parseBenchArgs(['--help'], 2)).toBeNull();
  });

  it('rejects unknown servers, options and bad numbers', () => {
    expect(() => parseBenchArgs(['--servers=openfire'], 2)).toThrow(UsageError);
    expect(() => parseBenchArgs(['--scenarios=latency'], 2)).toThrow(/unknown scenario/);
    expect(() => parseBenchArgs(['--colour=red'], 2)).toThrow(/unknown option --colour/);
    expect(() => parseBenchArgs(['--pairs=0'], 2)).toThrow(/--pairs/);
    expect(() => parseBenchArgs(['--duration=-1'], 2)).toThrow(/--duration/);
    expect(() => parseBenchArgs(['--pairs'], 2)).toThrow(/needs a value/);
    expect(() => parseBenchArgs(['extra'], 2)).toThrow(/unexpected argument/);
  });
});
