import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { isExplicit, loadConfig } from '@holdfast/config';
import { startFerretDb, startNatsServer, type ManagedProcess } from '@holdfast/localinfra';
import type { TestProject } from 'vitest/node';

import './provided.js';

/**
 * Vitest global setup for integration tests: one nats-server (JetStream, temp store) and one FerretDB
 * (SQLite, temp dir) on loopback for the whole run, torn down afterwards. With NATS_URL / MONGO_URL set,
 * the suite uses those servers instead (e.g. a real MongoDB replica set).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const { config } = loadConfig();
  const dir = mkdtempSync(path.join(tmpdir(), 'holdfast-test-'));
  const owned: ManagedProcess[] = [];
  try {
    const [natsUrl, mongoUrl] = await Promise.all([
      isExplicit('nats_url')
        ? config.nats_url
        : startNatsServer({ storeDir: path.join(dir, 'nats') }).then((server) => {
            owned.push(server.process);
            return server.url;
          }),
      isExplicit('mongo_url')
        ? config.mongo_url
        : startFerretDb({ dataDir: path.join(dir, 'ferretdb') }).then((server) => {
            owned.push(server.process);
            return server.url;
          }),
    ]);
    project.provide('natsUrl', natsUrl);
    project.provide('mongoUrl', mongoUrl);
  } catch (error) {
    await Promise.all(owned.map((process) => process.stop()));
    throw error;
  }
  return async () => {
    await Promise.all(owned.map((process) => process.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
}
