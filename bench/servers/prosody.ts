import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { canConnect, freePort } from '@holdfast/localinfra';

import { inParallel, waitFor } from '../async-utils.js';
import { debianVersion, ensureDebianPackage } from './debian-packages.js';
import { prosodyConfig } from './peer-configs.js';
import { runCommand, spawnGroup } from './processes.js';
import type { BenchUser, Target } from './target.js';

const PROSODY = '/usr/bin/prosody';
const PROSODYCTL = '/usr/bin/prosodyctl';

/** Prosody (Debian package) as the current user, with its config and data in a temp dir. */
export async function startProsody(
  users: readonly BenchUser[],
  domain: string,
  say: (line: string) => void,
): Promise<Target> {
  await ensureDebianPackage('prosody', PROSODY, say);
  const dir = mkdtempSync(path.join(tmpdir(), 'holdfast-bench-prosody-'));
  const port = await freePort();
  mkdirSync(path.join(dir, 'data'));
  mkdirSync(path.join(dir, 'certs'));
  const configFile = path.join(dir, 'prosody.cfg.lua');
  writeFileSync(configFile, prosodyConfig({ dir, port, domain }));

  say(`prosody: registering ${users.length} accounts`);
  await inParallel(users, 4, async (user) => {
    const result = await runCommand(
      PROSODYCTL,
      ['--config', configFile, 'register', user.name, domain, user.password],
      {
        timeoutMs: 30_000,
      },
    );
    if (result.code !== 0) throw new Error(`prosodyctl register ${user.name}: ${result.output}`);
  });

  const server = spawnGroup('prosody', PROSODY, ['--config', configFile, '-F'], { cwd: dir });
  try {
    await waitFor(
      'prosody c2s listener',
      async () => {
        if (!server.isRunning()) throw new Error(`prosody exited:\n${server.recentOutput()}`);
        return canConnect('127.0.0.1', port);
      },
      30_000,
    );
  } catch (error) {
    await server.stop(2000);
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    name: 'prosody',
    version: await debianVersion('prosody'),
    host: '127.0.0.1',
    port,
    domain,
    processes: () => [{ pid: server.pid, label: 'prosody' }],
    notes: [
      'mod_smacks (core in 0.12): smacks_hibernation_time 600, smacks_max_queue_size 5000, smacks_max_hibernated_sessions 10',
      'internal_hashed auth, internal (file) storage, epoll backend, no mod_limits, s2s disabled',
    ],
    stop: async () => {
      await server.stop(10_000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
