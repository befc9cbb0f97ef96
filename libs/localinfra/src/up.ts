import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';

import { childEnvironment, isExplicit, loadConfig } from '@holdfast/config';

import { launch, type ManagedProcess } from './child.js';
import { startFerretDb } from './ferretdb.js';
import { canConnect } from './net.js';
import { startNatsServer } from './nats-server.js';
import { repoRoot } from './repo.js';

/**
 * `./holdfast up`: starts nats-server (JetStream) and FerretDB with their data under ./data, then every
 * built service under services/, prints the endpoints, and stops everything in reverse order on Ctrl-C.
 * NATS_URL / MONGO_URL point the services at existing servers instead of starting local ones.
 */
const say = (line: string): void => {
  process.stdout.write(`[holdfast] ${line}\n`);
};

async function main(): Promise<number> {
  const { config, warnings } = loadConfig();
  for (const warning of warnings) say(`warning: ${warning}`);
  const root = repoRoot();
  const dataDir = path.resolve(root, config.data_dir);
  const owned: ManagedProcess[] = [];
  let stopping = false;

  const stopAll = async (): Promise<void> => {
    stopping = true;
    for (const child of [...owned].reverse()) {
      say(`stopping ${child.name}`);
      await child.stop();
    }
  };

  const ensureFree = async (port: number, what: string, variable: string): Promise<void> => {
    if (await canConnect('127.0.0.1', port)) {
      throw new Error(
        `port ${port} is already in use: stop what holds it, or set ${variable} to use it for ${what}`,
      );
    }
  };

  try {
    let natsUrl = config.nats_url;
    if (!isExplicit('nats_url')) {
      await ensureFree(config.local_nats_port, 'NATS', 'NATS_URL');
      const nats = await startNatsServer({
        storeDir: path.join(dataDir, 'nats'),
        port: config.local_nats_port,
      });
      owned.push(nats.process);
      natsUrl = nats.url;
    }
    let mongoUrl = config.mongo_url;
    if (!isExplicit('mongo_url')) {
      await ensureFree(config.local_mongo_port, 'MongoDB', 'MONGO_URL');
      const ferret = await startFerretDb({
        dataDir: path.join(dataDir, 'ferretdb'),
        port: config.local_mongo_port,
      });
      owned.push(ferret.process);
      mongoUrl = ferret.url;
    }

    const services = builtServices(root);
    for (const service of services) {
      const child = launch({
        name: service.name,
        command: process.execPath,
        args: [service.main],
        env: childEnvironment({ NATS_URL: natsUrl, MONGO_URL: mongoUrl }),
        onLine: (line) => {
          process.stdout.write(`[${service.name}] ${line}\n`);
        },
      });
      owned.push(child);
      void child.exited.then((code) => {
        if (stopping) return;
        say(`${service.name} exited with code ${String(code)}; stopping everything`);
        void stopAll().then(() => process.exit(1));
      });
    }

    say(`NATS (JetStream)  ${natsUrl}`);
    say(`MongoDB wire      ${mongoUrl}`);
    say(`data              ${dataDir}`);
    say(
      services.length === 0
        ? 'services          none built yet'
        : `services          ${services.map((s) => s.name).join(', ')}`,
    );
    if (services.some((service) => service.name === 'gateway')) {
      say(`XMPP c2s          ${config.c2s_host}:${config.c2s_port} (STARTTLS), domain ${config.xmpp_domain}`);
      if (config.websocket_port >= 0) {
        say(`XMPP WebSocket    ws://${config.c2s_host}:${config.websocket_port}/xmpp-websocket`);
      }
      say('accounts          ./holdfast users add <name> <password>');
    }
    say('ready; press Ctrl-C to stop');
  } catch (error) {
    say(`failed: ${(error as Error).message}`);
    await stopAll();
    return 1;
  }

  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await stopAll();
  say('stopped');
  return 0;
}

/** Services with a build: services/<name>/dist/main.js. */
function builtServices(root: string): { name: string; main: string }[] {
  const dir = path.join(root, 'services');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .sort()
    .map((name) => ({ name, main: path.join(dir, name, 'dist', 'main.js') }))
    .filter((service) => existsSync(service.main));
}

process.exitCode = await main();
