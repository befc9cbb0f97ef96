import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';

import { childEnvironment, type Environment } from '@holdfast/config';
import { repoRoot, startNatsServer } from '@holdfast/localinfra';
import { testInfrastructure, uniqueId } from '@holdfast/testing';

const root = repoRoot();

/** A service started as its own process, as an operator runs it (`node services/<name>/dist/main.js`). */
export interface ServiceProcess {
  readonly child: ChildProcess;
  /** The fields of the JSON log line that said the service was ready. */
  readonly ready: Record<string, unknown>;
  readonly exited: Promise<number | null>;
  /** Every line it wrote, for failure messages. */
  readonly lines: readonly string[];
}

/**
 * Starts `services/<name>/dist/main.js` with `env` and waits (up to 20 s) for its log line whose `msg`
 * is `readyMessage`.
 */
export async function startService(
  name: string,
  env: Environment,
  readyMessage: string,
): Promise<ServiceProcess> {
  const child = spawn(process.execPath, [path.join(root, `services/${name}/dist/main.js`)], {
    env: childEnvironment(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const lines: string[] = [];
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`${name} not ready in 20 s:\n${lines.join('\n')}`));
    }, 20_000);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${String(code)}:\n${lines.join('\n')}`));
    });
    const onLine = (line: string): void => {
      lines.push(line);
      if (!line.includes(`"${readyMessage}"`)) return;
      clearTimeout(timer);
      resolve(JSON.parse(line) as Record<string, unknown>);
    };
    createInterface({ input: child.stdout }).on('line', onLine);
    createInterface({ input: child.stderr }).on('line', onLine);
  });
  return { child, ready, exited, lines };
}

/** A gateway process and its client port. */
export async function startGateway(
  env: Environment,
  node: string,
): Promise<ServiceProcess & { port: number }> {
  const started = await startService('gateway', { ...env, NODE_ID: node }, 'gateway ready');
  return { ...started, port: Number(started.ready.c2sPort) };
}

/** Runs the users CLI (`services/gateway/dist/users-cli.js`) and returns its output. */
export async function usersCli(env: Environment, ...args: string[]): Promise<string> {
  const child = spawn(process.execPath, [path.join(root, 'services/gateway/dist/users-cli.js'), ...args], {
    env: childEnvironment(env),
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`users ${args.join(' ')} exited ${String(code)}: ${out}`);
  return out.trim();
}

/**
 * A nats-server (JetStream, temporary store) for one test file alone. Files that run services as
 * processes need one: the services' queue groups (`sm.terminate`, `sm.resume.claim`), durable consumers
 * (`session-state-p<n>`) and KV buckets are cluster-wide by design, so on a shared server another file's
 * gateway or session-state would take this file's work into its own database.
 */
export async function privateNats(): Promise<{ readonly url: string; stop(): Promise<void> }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'holdfast-nats-'));
  const server = await startNatsServer({ storeDir: dir });
  return {
    url: server.url,
    stop: async () => {
      await server.process.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The environment of a process test's services: loopback ports chosen by the system, plaintext SASL PLAIN
 * for the scripted client, the shared MongoDB-wire server under a database of its own, and `NATS_URL` to
 * be set to the file's `privateNats` in `beforeAll`.
 */
export function processEnv(
  database: string,
  overrides: Environment = {},
): Environment & {
  NATS_URL: string;
  MONGO_DB: string;
} {
  return {
    C2S_REQUIRE_ENCRYPTION: 'false',
    SASL_ALLOW_PLAIN_WITHOUT_TLS: 'true',
    ...overrides,
    NATS_URL: '',
    MONGO_URL: testInfrastructure().mongoUrl,
    MONGO_DB: uniqueId(database),
    XMPP_DOMAIN: 'localhost',
    C2S_PORT: '0',
    XMPP_WEBSOCKET_PORT: '0',
  };
}
