import { describe, expect, it } from 'vitest';

import { shrinkWarning } from './memory-figures.js';

describe('shrinkWarning', () => {
  it('is silent when every process grew or stayed', () => {
    const processes = [
      { name: 'prosody/lua5.4', beforeKb: 20_000, afterKb: 120_000 },
      { name: 'x/helper', beforeKb: 3000, afterKb: 2990 },
    ];
    expect(shrinkWarning(processes, 100_000)).toBeUndefined();
  });

  it('names a process that shrank by more than 10% of the growth (at least 5 MiB)', () => {
    const processes = [
      { name: 'gateway/node', beforeKb: 160_000, afterKb: 260_000 },
      { name: 'session-state/node', beforeKb: 220_000, afterKb: 120_000 },
    ];
    expect(shrinkWarning(processes, 0)).toBe(
      'RSS of session-state/node -98 MiB fell meanwhile (garbage collection): the per-session figure is rough',
    );
  });
});
