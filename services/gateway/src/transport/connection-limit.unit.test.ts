import { describe, expect, it } from 'vitest';

import { limitConnectionsPerAddress } from './connection-limit.js';
import type { Transport } from './transport.js';

function fakeTransport(remoteAddress: string): Transport & { destroyed: boolean; closeNow(): void } {
  const closers: (() => void)[] = [];
  const transport = {
    kind: 'websocket' as const,
    remoteAddress,
    secure: false,
    framing: 'framed' as const,
    destroyed: false,
    send: () => undefined,
    close: () => undefined,
    destroy: () => {
      transport.destroyed = true;
    },
    onData: () => undefined,
    onClose: (handler: () => void) => {
      closers.push(handler);
    },
    closeNow: () => {
      for (const close of closers) close();
    },
  };
  return transport;
}

describe('limitConnectionsPerAddress', () => {
  it('refuses connections over the cap per address and admits again once one closed', () => {
    const accepted: string[] = [];
    const refused: string[] = [];
    const limit = limitConnectionsPerAddress(
      2,
      (t) => accepted.push(t.remoteAddress),
      (a) => refused.push(a),
    );
    const [a1, a2, a3, b1] = ['10.0.0.1', '10.0.0.1', '10.0.0.1', '10.0.0.2'].map(fakeTransport);
    for (const t of [a1, a2, a3, b1]) if (t !== undefined) limit(t);
    expect(accepted).toEqual(['10.0.0.1', '10.0.0.1', '10.0.0.2']);
    expect(refused).toEqual(['10.0.0.1']);
    expect(a3?.destroyed).toBe(true);
    a1?.closeNow();
    const a4 = fakeTransport('10.0.0.1');
    limit(a4);
    expect(a4.destroyed).toBe(false);
  });
});
