import { mkdirSync } from 'node:fs';
import path from 'node:path';

import { launch, waitUntil, type ManagedProcess } from './child.js';
import { canConnect, freePort } from './net.js';
import { toolPath } from './repo.js';

export interface FerretDbOptions {
  /** Directory for the SQLite files and FerretDB's state (created if missing). */
  readonly dataDir: string;
  /** Listen port; omitted = a free port. */
  readonly port?: number;
  readonly host?: string;
  readonly onLine?: (line: string) => void;
  /** Run under `nice -n <this>` (see LaunchOptions). */
  readonly nice?: number;
}

export interface RunningFerretDb {
  readonly url: string;
  readonly port: number;
  readonly process: ManagedProcess;
}

/**
 * The SQLite files in `dir`, with commits synced at WAL checkpoints instead of at every commit
 * (`synchronous(normal)`; FerretDB keeps its WAL default). FerretDB makes every write its own transaction
 * and SQLite has one writer at a time, so with the default (`full`) every write of every service waited
 * for the fsync of the one before it. A commit still survives a crash of FerretDB or of any other process;
 * only a power loss or OS crash can undo the commits since the last checkpoint
 * (docs/ferretdb-compatibility.md). This is the local and test database; production runs MongoDB.
 */
function sqliteUrl(dir: string): string {
  return `file:${dir}/?_pragma=synchronous(normal)`;
}

/**
 * Starts the pinned FerretDB (MongoDB wire protocol on SQLite) and waits until it accepts connections.
 * Telemetry to its vendor is disabled and its debug HTTP listener is off: nothing may call out.
 */
export async function startFerretDb(options: FerretDbOptions): Promise<RunningFerretDb> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? (await freePort(host));
  const sqliteDir = path.join(options.dataDir, 'sqlite');
  const stateDir = path.join(options.dataDir, 'state');
  mkdirSync(sqliteDir, { recursive: true });
  mkdirSync(stateDir, { recursive: true });
  const args = [
    '--telemetry=disable',
    '--debug-addr=-',
    '--handler=sqlite',
    `--sqlite-url=${sqliteUrl(sqliteDir)}`,
    `--state-dir=${stateDir}`,
    `--listen-addr=${host}:${port}`,
    '--log-level=warn',
  ];
  const process = launch({
    name: 'ferretdb',
    command: toolPath('ferretdb'),
    args,
    ...(options.nice === undefined ? {} : { nice: options.nice }),
    ...(options.onLine ? { onLine: options.onLine } : {}),
  });
  await waitUntil('TCP listener', () => canConnect(host, port), process);
  return { url: `mongodb://${host}:${port}/`, port, process };
}
