import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { childEnvironment } from '@holdfast/config';
import {
  canConnect,
  freePort,
  launch,
  repoRoot,
  startFerretDb,
  startNatsServer,
  type ManagedProcess,
} from '@holdfast/localinfra';

import { inParallel, sleep, waitFor } from '../async-utils.js';
import { runCommand, track, untrack } from './processes.js';
import type { BenchUser, Target } from './target.js';

/**
 * Holdfast as `./holdfast up` runs it, on fresh data in a temp dir: the pinned nats-server (JetStream)
 * and FerretDB from .tools/, then the built services (gateway; session-state when built) as child
 * processes, configured for plaintext c2s on a free loopback port.
 */
export async function startHoldfast(
  users: readonly BenchUser[],
  domain: string,
  say: (line: string) => void,
): Promise<Target> {
  const root = repoRoot();
  const gatewayMain = path.join(root, 'services/gateway/dist/main.js');
  const usersCli = path.join(root, 'services/gateway/dist/users-cli.js');
  if (!existsSync(gatewayMain) || !existsSync(usersCli)) {
    throw new Error(`${gatewayMain} is missing: run npm run build (npm run bench does)`);
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'holdfast-bench-holdfast-'));
  const owned: ManagedProcess[] = [];
  const own = (child: ManagedProcess): ManagedProcess => {
    owned.push(child);
    track(child.pid, false);
    return child;
  };
  const stop = async (): Promise<void> => {
    for (const child of [...owned].reverse()) {
      await child.stop(10_000);
      untrack(child.pid);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const nats = await startNatsServer({ storeDir: path.join(dir, 'nats'), port: await freePort() });
    own(nats.process);
    const ferret = await startFerretDb({ dataDir: path.join(dir, 'ferretdb') });
    own(ferret.process);
    const port = await freePort();
    const env = childEnvironment({
      NATS_URL: nats.url,
      MONGO_URL: ferret.url,
      MONGO_DB: 'holdfast_bench',
      XMPP_DOMAIN: domain,
      C2S_HOST: '127.0.0.1',
      C2S_PORT: String(port),
      XMPP_WEBSOCKET_PORT: String(await freePort()),
      C2S_REQUIRE_ENCRYPTION: 'false',
      SASL_ALLOW_PLAIN_WITHOUT_TLS: 'true',
      MAX_CONNECTIONS_PER_IP: '100000',
      LOG_LEVEL: 'warn',
      OTEL_SDK_DISABLED: 'true',
    });
    const services = ['gateway', 'session-state']
      .map((name) => ({ name, main: path.join(root, 'services', name, 'dist', 'main.js') }))
      .filter((service) => existsSync(service.main));
    const notes = [
      `services: ${services.map((s) => s.name).join(', ')} (built dist/), nats-server + FerretDB (SQLite) from .tools/`,
      'defaults for SM_* (hibernation 600 s, queue 5000, 10 hibernated sessions per user); MAX_CONNECTIONS_PER_IP raised to 100000',
    ];
    for (const service of services) {
      const child = own(
        launch({
          name: service.name,
          command: process.execPath,
          args:
            service.name === 'gateway'
              ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof', service.main]
              : [service.main],
          env: { ...env, NODE_ID: `bench-${service.name}-1` },
        }),
      );
      if (service.name === 'gateway') {
        await waitFor(
          'gateway c2s listener',
          async () => {
            if (await Promise.race([child.exited.then(() => true), sleep(0).then(() => false)])) {
              throw new Error(`gateway exited:\n${child.recentOutput()}`);
            }
            return canConnect('127.0.0.1', port);
          },
          60_000,
        );
      } else {
        await sleep(1000);
        const exited = await Promise.race([child.exited.then(() => true), sleep(0).then(() => false)]);
        if (exited) notes.push(`${service.name} exited at start: ${child.recentOutput().slice(-500)}`);
      }
    }

    say(`holdfast: adding ${users.length} accounts (users-cli add)`);
    await inParallel(users, 4, async (user) => {
      const result = await runCommand(process.execPath, [usersCli, 'add', user.name, user.password], {
        env,
        timeoutMs: 60_000,
      });
      if (result.code !== 0) throw new Error(`users-cli add ${user.name}: ${result.output}`);
    });

    const head = await runCommand('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { timeoutMs: 10_000 });
    return {
      name: 'holdfast',
      version: head.code === 0 ? `git ${head.output.trim()}` : 'unknown',
      host: '127.0.0.1',
      port,
      domain,
      processes: () => owned.map((child) => ({ pid: child.pid, label: child.name })),
      notes,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
