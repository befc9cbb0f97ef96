import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { childEnvironment } from '@holdfast/config';
import { canConnect, freePort } from '@holdfast/localinfra';

import { waitFor } from '../async-utils.js';
import { debianVersion, ensureDebianPackage } from './debian-packages.js';
import { ejabberdConfig, ejabberdCtlConfig, xep0227Users } from './peer-configs.js';
import { runCommand, spawnGroup } from './processes.js';
import type { BenchUser, Target } from './target.js';

const EJABBERDCTL = '/usr/sbin/ejabberdctl';

/**
 * ejabberd (Debian package) as the current user: the packaged ejabberdctl script is copied with its
 * install user cleared (it would otherwise switch to the `ejabberd` user when run as root), and runs
 * `foreground` with config, spool, logs, Erlang cookie (HOME) and ejabberdctl.cfg in a temp dir. Erlang
 * distribution listens on one loopback port (ERL_DIST_PORT), so no epmd is started.
 */
export async function startEjabberd(
  users: readonly BenchUser[],
  domain: string,
  say: (line: string) => void,
): Promise<Target> {
  await ensureDebianPackage('ejabberd', EJABBERDCTL, say);
  const dir = mkdtempSync(path.join(tmpdir(), 'holdfast-bench-ejabberd-'));
  const port = await freePort();
  const distPort = await freePort();
  for (const sub of ['spool', 'logs']) mkdirSync(path.join(dir, sub));
  writeFileSync(path.join(dir, 'ejabberd.yml'), ejabberdConfig({ port, domain }));
  writeFileSync(
    path.join(dir, 'ejabberdctl.cfg'),
    ejabberdCtlConfig({ node: `bench${port}@localhost`, distPort }),
  );
  writeFileSync(path.join(dir, 'inetrc'), '');
  const ctl = path.join(dir, 'ejabberdctl');
  writeFileSync(ctl, readFileSync(EJABBERDCTL, 'utf8').replace(/^INSTALLUSER=.*$/m, 'INSTALLUSER='));
  chmodSync(ctl, 0o755);
  const env = childEnvironment({ HOME: dir });
  const ctlArgs = ['--config-dir', dir, '--spool', path.join(dir, 'spool'), '--logs', path.join(dir, 'logs')];

  const server = spawnGroup('ejabberd', ctl, [...ctlArgs, 'foreground'], { cwd: dir, env });
  const stop = async (): Promise<void> => {
    await runCommand(ctl, [...ctlArgs, 'stop'], { env, timeoutMs: 15_000 }).catch(() => undefined);
    await server.stop(10_000);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      'ejabberd c2s listener',
      async () => {
        if (!server.isRunning()) throw new Error(`ejabberd exited:\n${server.recentOutput()}`);
        return canConnect('127.0.0.1', port);
      },
      60_000,
    );
    const started = await runCommand(ctl, [...ctlArgs, 'started'], { env, timeoutMs: 60_000 });
    if (started.code !== 0) throw new Error(`ejabberdctl started: ${started.output}`);
    say(`ejabberd: importing ${users.length} accounts (XEP-0227, ejabberdctl import_piefxis)`);
    const usersFile = path.join(dir, 'users.xml');
    writeFileSync(usersFile, xep0227Users(domain, users));
    const imported = await runCommand(ctl, [...ctlArgs, 'import_piefxis', usersFile], {
      env,
      timeoutMs: 120_000,
    });
    if (imported.code !== 0) throw new Error(`ejabberdctl import_piefxis: ${imported.output}`);
    const listed = await runCommand(ctl, [...ctlArgs, 'registered_users', domain], {
      env,
      timeoutMs: 30_000,
    });
    const registered = new Set(listed.output.split('\n').map((line) => line.trim()));
    const missing = users.filter((u) => !registered.has(u.name));
    if (missing.length > 0) throw new Error(`ejabberd: ${missing.length} accounts missing after import`);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    name: 'ejabberd',
    version: await debianVersion('ejabberd'),
    host: '127.0.0.1',
    port,
    domain,
    processes: () => [{ pid: server.pid, label: 'ejabberd' }],
    notes: [
      'mod_stream_mgmt: resume_timeout 600, max_ack_queue 5000, resend_on_timeout if_offline; mod_offline (1000 per user)',
      'SCRAM-stored passwords (Mnesia), no c2s shaper, Erlang distribution on a loopback port without epmd',
    ],
    stop,
  };
}
