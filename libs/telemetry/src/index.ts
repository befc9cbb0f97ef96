export { startTelemetry } from './telemetry.js';
export type { Telemetry, TelemetryConfig, TelemetryOptions } from './telemetry.js';
export { createLogger } from './logger.js';
export { stopOnSignals } from './shutdown.js';
export type { Logger, LoggerOptions } from './logger.js';
