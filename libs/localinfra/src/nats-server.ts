import { mkdirSync } from 'node:fs';

import { launch, waitUntil, type ManagedProcess } from './child.js';
import { toolPath } from './repo.js';

export interface NatsServerOptions {
  /** JetStream file store directory (created if missing). */
  readonly storeDir: string;
  /** Client port; omitted = a random free port chosen by nats-server. */
  readonly port?: number;
  readonly host?: string;
  readonly onLine?: (line: string) => void;
}

export interface RunningNatsServer {
  readonly url: string;
  readonly port: number;
  readonly process: ManagedProcess;
}

const LISTENING = /Listening for client connections on [^\s]*:(\d+)/;

/** Starts the pinned nats-server with JetStream on a file store and waits until it is ready. */
export async function startNatsServer(options: NatsServerOptions): Promise<RunningNatsServer> {
  const host = options.host ?? '127.0.0.1';
  mkdirSync(options.storeDir, { recursive: true });
  let port = options.port;
  let ready = false;
  const process = launch({
    name: 'nats-server',
    command: toolPath('nats-server'),
    args: ['-js', '-sd', options.storeDir, '-a', host, '-p', String(options.port ?? -1)],
    onLine: (line) => {
      const listening = LISTENING.exec(line);
      if (listening?.[1] !== undefined) port = Number(listening[1]);
      if (line.includes('Server is ready')) ready = true;
      options.onLine?.(line);
    },
  });
  await waitUntil('readiness', () => Promise.resolve(ready && port !== undefined), process);
  if (port === undefined) throw new Error('nats-server: port unknown');
  return { url: `nats://${host}:${port}`, port, process };
}
