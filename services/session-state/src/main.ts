import { loadConfig } from '@holdfast/config';
import { createLogger, startTelemetry, stopOnSignals } from '@holdfast/telemetry';

/**
 * The session-state process: config, telemetry, then (imported only after telemetry started, so its
 * modules are instrumented) the bus, the store and the app. SIGTERM/SIGINT stop the app, then drain.
 */
const { config, warnings } = loadConfig();
const telemetry = await startTelemetry({ serviceName: 'session-state', config });
const logger = createLogger({ service: 'session-state', node: config.node_id, level: config.log_level });
for (const warning of warnings) logger.warn({}, warning);

const [{ Bus }, { Store }, { build }] = await Promise.all([
  import('@holdfast/bus'),
  import('@holdfast/store'),
  import('./app.js'),
]);

const bus = await Bus.connect({
  url: config.nats_url,
  name: `session-state/${config.node_id}`,
  node: config.node_id,
  logger,
});
await bus.ensureStreams(undefined, { replicas: config.nats_stream_replicas });
const store = await Store.open({
  url: config.mongo_url,
  dbName: config.mongo_db,
  logger,
  appName: `session-state/${config.node_id}`,
});
await store.ensureIndexes();
const app = build({ config, bus, store, logger });
await app.start();
logger.info({}, 'session-state ready');

stopOnSignals(logger, telemetry, [
  ['app', () => app.stop()],
  ['nats', () => bus.drain()],
  ['mongodb', () => store.close()],
]);
