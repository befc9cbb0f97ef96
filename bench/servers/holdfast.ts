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
  waitUntil,
  type ManagedProcess,
} from '@holdfast/localinfra';

import { inParallel, sleep, waitFor } from '../async-utils.js';
import { runCommand, track, untrack } from './processes.js';
import type { BenchUser, Target } from './target.js';

export interface HoldfastOptions {
  /** Timeout service processes to start after the others (default none). */
  readonly timeouts?: number;
  /** Run the gateway and timeout processes under `node --cpu-prof`, writing profiles here. */
  readonly cpuProfDir?: string;
  /** Leave session-state out (a diagnosis: what its projection costs the rest). */
  readonly withoutSessionState?: boolean;
  /** Run FerretDB and session-state under `nice -n <this>`: the database and the read model yield the CPU. */
  readonly projectionNice?: number;
}

/** A running Holdfast: a Target, plus what the expiry scenario needs to reach the session log. */
export interface HoldfastTarget extends Target {
  readonly natsUrl: string;
  /** NODE_ID of the gateway, and of each timeout process. */
  readonly gatewayNode: string;
  readonly timeoutNodes: readonly string[];
  /** Warnings and errors the services logged so far, per process and message, with their counts. */
  problems(): Record<string, Record<string, number>>;
}

const TIMEOUT_READY = /"msg":"timeout ready"/;

/** Counts the warn and error lines (pino JSON, level ≥ 40) of the services, per process and message. */
class ProblemLog {
  private readonly counts: Record<string, Record<string, number>> = {};

  line(name: string, line: string): void {
    if (!line.startsWith('{')) return;
    let entry: { level?: unknown; msg?: unknown };
    try {
      entry = JSON.parse(line) as { level?: unknown; msg?: unknown };
    } catch {
      return;
    }
    if (typeof entry.level !== 'number' || entry.level < 40) return;
    const key = `${entry.level >= 50 ? 'error' : 'warn'}: ${typeof entry.msg === 'string' ? entry.msg : '?'}`;
    const counts = (this.counts[name] ??= {});
    counts[key] = (counts[key] ?? 0) + 1;
  }

  snapshot(): Record<string, Record<string, number>> {
    return Object.fromEntries(Object.entries(this.counts).map(([name, counts]) => [name, { ...counts }]));
  }
}

/**
 * Holdfast as `./holdfast up` runs it, on fresh data in a temp dir: the pinned nats-server (JetStream)
 * and FerretDB from .tools/, then the built services (gateway; session-state when built; `timeouts`
 * timeout processes when asked) as child processes, configured for plaintext c2s on a free loopback port.
 */
export async function startHoldfast(
  users: readonly BenchUser[],
  domain: string,
  say: (line: string) => void,
  options: HoldfastOptions = {},
): Promise<HoldfastTarget> {
  const root = repoRoot();
  const gatewayMain = path.join(root, 'services/gateway/dist/main.js');
  const usersCli = path.join(root, 'services/gateway/dist/users-cli.js');
  if (!existsSync(gatewayMain) || !existsSync(usersCli)) {
    throw new Error(`${gatewayMain} is missing: run npm run build (npm run bench does)`);
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'holdfast-bench-holdfast-'));
  const problems = new ProblemLog();
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
    const ferret = await startFerretDb({
      dataDir: path.join(dir, 'ferretdb'),
      ...(options.projectionNice === undefined ? {} : { nice: options.projectionNice }),
    });
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
      // Like for like: the Prosody and ejabberd configs archive nothing (peer-configs.ts, no MAM).
      MAM_ENABLED: 'false',
      LOG_LEVEL: 'warn',
      OTEL_SDK_DISABLED: 'true',
    });
    const services = (options.withoutSessionState === true ? ['gateway'] : ['gateway', 'session-state'])
      .map((name) => ({ name, main: path.join(root, 'services', name, 'dist', 'main.js') }))
      .filter((service) => existsSync(service.main));
    const notes = [
      `services: ${services.map((s) => s.name).join(', ')} (built dist/), nats-server + FerretDB (SQLite) from .tools/`,
      'defaults for SM_* (hibernation 600 s, queue 5000, 10 hibernated sessions per user); MAX_CONNECTIONS_PER_IP raised to 100000; MAM off, as on the peers',
    ];
    const profiled = (main: string): string[] =>
      options.cpuProfDir === undefined
        ? [main]
        : ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`, main];
    if (options.cpuProfDir !== undefined) {
      notes.push(
        `gateway and timeout processes run under node --cpu-prof (profiles in ${options.cpuProfDir})`,
      );
    }
    if (options.projectionNice !== undefined) {
      notes.push(`FerretDB and session-state run under nice -n ${options.projectionNice}`);
    }
    for (const service of services) {
      const niced = service.name === 'session-state' ? options.projectionNice : undefined;
      const child = own(
        launch({
          name: service.name,
          command: process.execPath,
          args: service.name === 'gateway' ? profiled(service.main) : [service.main],
          ...(niced === undefined ? {} : { nice: niced }),
          env: { ...env, NODE_ID: `bench-${service.name}-1` },
          onLine: (line) => {
            problems.line(service.name, line);
          },
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

    const timeoutNodes: string[] = [];
    const timeouts = options.timeouts ?? 0;
    const timeoutMain = path.join(root, 'services/timeout/dist/main.js');
    if (timeouts > 0 && !existsSync(timeoutMain)) {
      throw new Error(`${timeoutMain} is missing: run npm run build (npm run bench does)`);
    }
    for (let i = 1; i <= timeouts; i++) {
      const node = `bench-timeout-${i}`;
      let ready = false;
      // Info level for its ready line (it logs one line per partition taken or given back, no more).
      const child = own(
        launch({
          name: `timeout-${i}`,
          command: process.execPath,
          args: profiled(timeoutMain),
          env: { ...env, NODE_ID: node, LOG_LEVEL: 'info' },
          onLine: (line) => {
            if (TIMEOUT_READY.test(line)) ready = true;
            problems.line(`timeout-${i}`, line);
          },
        }),
      );
      await waitUntil(`${node}: 'timeout ready'`, () => Promise.resolve(ready), child, 60_000);
      timeoutNodes.push(node);
    }
    if (timeouts > 0) {
      notes.push(`${timeouts} timeout process(es), TIMEOUT_LEASE_MS default (5000), expirer defaults`);
    }

    if (users.length > 0) say(`holdfast: adding ${users.length} accounts (users-cli add)`);
    await inParallel(users, 4, async (user) => {
      const result = await runCommand(process.execPath, [usersCli, 'add', user.name, user.password], {
        env,
        timeoutMs: 60_000,
      });
      if (result.code !== 0) throw new Error(`users-cli add ${user.name}: ${result.output}`);
    });

    const head = await runCommand('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { timeoutMs: 10_000 });
    // The built services are whatever the working tree holds: say so when it differs from HEAD.
    const dirty = await runCommand(
      'git',
      ['-C', root, 'status', '--porcelain', '--untracked-files=no', 'libs', 'services'],
      {
        timeoutMs: 10_000,
      },
    );
    const changed =
      dirty.code === 0
        ? dirty.output
            .trim()
            .split('\n')
            .filter((line) => line !== '').length
        : 0;
    if (changed > 0)
      notes.push(`built from a working tree with ${changed} uncommitted change(s) under libs/ and services/`);
    return {
      name: 'holdfast',
      natsUrl: nats.url,
      gatewayNode: 'bench-gateway-1',
      timeoutNodes,
      problems: () => problems.snapshot(),
      version: head.code === 0 ? `git ${head.output.trim()}${changed > 0 ? '+dirty' : ''}` : 'unknown',
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
