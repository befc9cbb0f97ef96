import { loadConfig } from '@holdfast/config';
import { createLogger, startTelemetry, stopOnSignals } from '@holdfast/telemetry';

/**
 * The gateway process: config, telemetry, then (imported only after telemetry started, so its modules
 * are instrumented) the bus, the store, the registry and the app. SIGTERM/SIGINT drain in order.
 */
const { config, warnings } = loadConfig();
const telemetry = await startTelemetry({ serviceName: 'gateway', config });
const logger = createLogger({ service: 'gateway', node: config.node_id, level: config.log_level });
for (const warning of warnings) logger.warn({}, warning);

const [{ Bus }, { Store }, { ResourceRegistry }, { build }] = await Promise.all([
  import('@holdfast/bus'),
  import('@holdfast/store'),
  import('./routing/registry.js'),
  import('./app.js'),
]);

const bus = await Bus.connect({
  url: config.nats_url,
  name: `gateway/${config.node_id}`,
  node: config.node_id,
  logger,
});
await bus.ensureStreams(undefined, { replicas: config.nats_stream_replicas });
const store = await Store.open({
  url: config.mongo_url,
  dbName: config.mongo_db,
  logger,
  appName: `gateway/${config.node_id}`,
});
await store.ensureIndexes();
const registry = await ResourceRegistry.open(bus, { replicas: config.nats_stream_replicas });
const app = build({ config, bus, store, registry, logger });
const listening = await app.listen();
logger.info({ ...listening, domain: config.xmpp_domain }, 'gateway ready');

stopOnSignals(logger, telemetry, [
  ['app', () => app.close()],
  ['nats', () => bus.drain()],
  ['mongodb', () => store.close()],
]);
