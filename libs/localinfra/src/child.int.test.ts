import { describe, expect, it } from 'vitest';

import { launch } from './child.js';

describe('launch', () => {
  it('runs a child under nice when asked, and as is otherwise', async () => {
    // `nice` without a command prints the niceness it runs at.
    const niced = launch({ name: 'niced', command: 'nice', args: [], nice: 7 });
    const plain = launch({ name: 'plain', command: 'nice', args: [] });
    expect(await Promise.all([niced.exited, plain.exited])).toEqual([0, 0]);
    const base = Number(plain.recentOutput().trim());
    expect(Number(niced.recentOutput().trim())).toBe(Math.min(19, base + 7));
  });
});
