import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';

import { Bus } from '@holdfast/bus';
import { loadConfig, type Environment } from '@holdfast/config';
import { Store } from '@holdfast/store';
import { recordingLogger, testInfrastructure, uniqueId } from '@holdfast/testing';

import { build, type GatewayApp, type Listening } from '../app.js';
import { Accounts } from '../auth/accounts.js';
import { ResourceRegistry } from '../routing/registry.js';
import { loadOrGenerateCertificate, type Certificate } from '../transport/certificate.js';

export interface RunningGateway {
  readonly node: string;
  readonly app: GatewayApp;
  readonly listening: Listening;
  readonly bus: Bus;
  readonly logs: ReturnType<typeof recordingLogger>;
}

export interface TestCluster {
  readonly domain: string;
  readonly gateways: readonly RunningGateway[];
  readonly accounts: Accounts;
  readonly store: Store;
  /** `xmpp://127.0.0.1:<c2s port of gateway i>` */
  service(index: number): string;
  stop(): Promise<void>;
}

/**
 * One certificate for every cluster of this process, added to Node's default CAs once: clusters may start
 * concurrently (a certificate each would leave all but the first one trusted).
 */
let certificate: Promise<Certificate> | undefined;
const DOMAIN = 'localhost';

function trustedCertificate(): Promise<Certificate> {
  certificate ??= loadOrGenerateCertificate({ domain: DOMAIN }).then((generated) => {
    tls.setDefaultCACertificates([...tls.getCACertificates('default'), generated.cert]);
    return generated;
  });
  return certificate;
}

/**
 * Gateways in this process, each with its own NATS connection and node id, sharing the test run's
 * nats-server and MongoDB-wire server (own database and registry bucket per cluster): stanzas between
 * them really cross NATS. The generated certificate is added to Node's default CAs (tls.setDefaultCACertificates),
 * so stock clients verify it like a real one.
 */
export async function startCluster(options: { gateways: number; env?: Environment }): Promise<TestCluster> {
  const infra = testInfrastructure();
  const dir = mkdtempSync(path.join(tmpdir(), 'holdfast-gw-'));
  const { cert, key } = await trustedCertificate();
  writeFileSync(path.join(dir, 'cert.pem'), cert);
  writeFileSync(path.join(dir, 'key.pem'), key);
  const dbName = uniqueId('gw');
  const bucket = uniqueId('RES');
  const store = await Store.open({ url: infra.mongoUrl, dbName, logger: recordingLogger() });
  await store.ensureIndexes();
  const gateways: RunningGateway[] = [];
  for (let index = 0; index < options.gateways; index++) {
    const node = uniqueId(`gw${index}-`);
    const logs = recordingLogger();
    const { config } = loadConfig({
      NODE_ID: node,
      XMPP_DOMAIN: DOMAIN,
      C2S_PORT: '0',
      XMPP_WEBSOCKET_PORT: '0',
      TLS_CERT_FILE: path.join(dir, 'cert.pem'),
      TLS_KEY_FILE: path.join(dir, 'key.pem'),
      NATS_URL: infra.natsUrl,
      MONGO_URL: infra.mongoUrl,
      MONGO_DB: dbName,
      ...options.env,
    });
    const bus = await Bus.connect({ url: infra.natsUrl, name: node, node, logger: logs });
    await bus.ensureStreams();
    const registry = await ResourceRegistry.open(bus, { bucket });
    const built = build({ config, bus, store, registry, logger: logs });
    // A test may drain a gateway itself (app.close()); stop() then must not close it again.
    let closed: Promise<void> | undefined;
    const app: GatewayApp = { ...built, close: () => (closed ??= built.close()) };
    gateways.push({ node, app, listening: await app.listen(), bus, logs });
  }
  return {
    domain: DOMAIN,
    gateways,
    accounts: new Accounts(store, DOMAIN),
    store,
    service: (index) => `xmpp://127.0.0.1:${gateways[index]?.listening.c2sPort ?? 0}`,
    stop: async () => {
      for (const gateway of gateways) {
        await gateway.app.close();
        await gateway.bus.drain();
      }
      await store.db.dropDatabase().catch(() => undefined);
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
