import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';

import { childEnvironment } from '@holdfast/config';
import { MongoClient } from 'mongodb';
import { connect } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';

import { canConnect, freePort } from './net.js';
import { repoRoot } from './repo.js';

describe('./holdfast up (the local runner)', () => {
  it('starts NATS with JetStream and FerretDB, serves them, and stops cleanly on SIGINT', async () => {
    const root = repoRoot();
    const dataDir = mkdtempSync(path.join(tmpdir(), 'holdfast-up-'));
    const [natsPort, mongoPort] = [await freePort(), await freePort()];
    // The runner is run from its build, exactly as ./holdfast up runs it (npm test builds first).
    const child = spawn(process.execPath, [path.join(root, 'libs/localinfra/dist/up.js')], {
      env: childEnvironment({
        HOLDFAST_DATA_DIR: dataDir,
        HOLDFAST_NATS_PORT: String(natsPort),
        HOLDFAST_MONGO_PORT: String(mongoPort),
        NATS_URL: '',
        MONGO_URL: '',
        C2S_PORT: '0',
        XMPP_WEBSOCKET_PORT: '0',
      }),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      const lines: string[] = [];
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error(`no ready line in 30 s:\n${lines.join('\n')}`));
        }, 30_000);
        createInterface({ input: child.stdout }).on('line', (line) => {
          lines.push(line);
          if (line.includes('ready; press Ctrl-C')) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      expect(lines).toContain(`[holdfast] NATS (JetStream)  nats://127.0.0.1:${natsPort}`);

      const nc = await connect({ servers: `nats://127.0.0.1:${natsPort}` });
      expect(nc.info?.jetstream).toBe(true);
      await nc.close();
      const mongo = new MongoClient(`mongodb://127.0.0.1:${mongoPort}/`, { serverSelectionTimeoutMS: 5000 });
      await mongo
        .db('up-test')
        .collection('c')
        .insertOne({ _id: 'x' } as never);
      await mongo.close();

      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(await canConnect('127.0.0.1', natsPort)).toBe(false);
      expect(await canConnect('127.0.0.1', mongoPort)).toBe(false);
    } finally {
      child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
