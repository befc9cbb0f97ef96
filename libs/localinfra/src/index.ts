export { launch, waitUntil } from './child.js';
export type { LaunchOptions, ManagedProcess } from './child.js';
export { startFerretDb } from './ferretdb.js';
export type { FerretDbOptions, RunningFerretDb } from './ferretdb.js';
export { startNatsServer } from './nats-server.js';
export type { NatsServerOptions, RunningNatsServer } from './nats-server.js';
export { canConnect, freePort } from './net.js';
export { pinnedVersions, repoRoot, toolPath } from './repo.js';
