import type { Transport } from './transport.js';

/**
 * Caps concurrent connections per remote address for a listener that cannot refuse before accepting
 * (WebSocket upgrades): over the cap, the transport is destroyed before any XMPP is spoken.
 */
export function limitConnectionsPerAddress(
  max: number,
  onConnection: (transport: Transport) => void,
  onRefused: (remoteAddress: string) => void,
): (transport: Transport) => void {
  const open = new Map<string, number>();
  return (transport) => {
    const address = transport.remoteAddress;
    const count = open.get(address) ?? 0;
    if (count >= max) {
      onRefused(address);
      transport.destroy();
      return;
    }
    open.set(address, count + 1);
    transport.onClose(() => {
      const left = (open.get(address) ?? 1) - 1;
      if (left <= 0) open.delete(address);
      else open.set(address, left);
    });
    onConnection(transport);
  };
}
