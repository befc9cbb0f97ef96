export { eventually, recordingLogger, testInfrastructure, uniqueId } from './helpers.js';
export type { LogRecord, TestInfrastructure } from './helpers.js';
