import { loadConfig } from '@holdfast/config';
import { createLogger, startTelemetry, stopOnSignals } from '@holdfast/telemetry';

/**
 * The timeout process: config, telemetry, then (imported only after telemetry started, so its modules
 * are instrumented) the bus and the app. SIGTERM/SIGINT give the partitions back, then drain.
 */
const { config, warnings } = loadConfig();
const telemetry = await startTelemetry({ serviceName: 'timeout', config });
const logger = createLogger({ service: 'timeout', node: config.node_id, level: config.log_level });
for (const warning of warnings) logger.warn({}, warning);

const [{ Bus }, { build }] = await Promise.all([import('@holdfast/bus'), import('./app.js')]);

const bus = await Bus.connect({
  url: config.nats_url,
  name: `timeout/${config.node_id}`,
  node: config.node_id,
  logger,
});
await bus.ensureStreams(undefined, { replicas: config.nats_stream_replicas });
const app = build({ config, bus, logger });
await app.start();
logger.info({ partitions: app.leases.partitions }, 'timeout ready');

stopOnSignals(logger, telemetry, [
  ['app', () => app.stop()],
  ['nats', () => bus.drain()],
]);
