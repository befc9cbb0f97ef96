import { describe, expect, it } from 'vitest';

import { FailureThrottle } from './throttle.js';

describe('FailureThrottle', () => {
  it('blocks a key after maxFailures within the window and forgets them after it', () => {
    const throttle = new FailureThrottle(3, 1000);
    for (const at of [0, 100, 200]) {
      expect(throttle.blocked('ip:127.0.0.1', at)).toBe(false);
      throttle.record('ip:127.0.0.1', at);
    }
    expect(throttle.blocked('ip:127.0.0.1', 300)).toBe(true);
    expect(throttle.blocked('ip:127.0.0.2', 300)).toBe(false);
    expect(throttle.blocked('ip:127.0.0.1', 1001)).toBe(false);
  });

  it('keeps at most maxKeys keys, dropping the least recently failed', () => {
    const throttle = new FailureThrottle(1, 10_000, 2);
    throttle.record('a', 0);
    throttle.record('b', 1);
    throttle.record('c', 2);
    expect(throttle.blocked('a', 3)).toBe(false);
    expect(throttle.blocked('b', 3)).toBe(true);
    expect(throttle.blocked('c', 3)).toBe(true);
  });
});
