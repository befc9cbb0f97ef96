import { register } from 'node:module';
import type { Config } from '@holdfast/config';

import { otlpEndpoints } from './endpoints.js';

/** A started (or deliberately not started) OpenTelemetry SDK, owned by the process's main. */
export interface Telemetry {
  /** False when nothing was started: OTEL_SDK_DISABLED, or no OTLP endpoint configured. */
  readonly enabled: boolean;
  /**
   * Exports what is still buffered, then stops the SDK; the last step of a service's shutdown. Rejects when
   * that final export fails (collector unreachable), so the caller can log what was lost.
   */
  shutdown(): Promise<void>;
}

export type TelemetryConfig = Pick<
  Config,
  'node_id' | 'otel_sdk_disabled' | 'otel_exporter_otlp_endpoint' | 'otel_exporter_otlp_traces_endpoint'
>;

export interface TelemetryOptions {
  /** `service.name` on every span and metric. */
  readonly serviceName: string;
  readonly config: TelemetryConfig;
}

const DISABLED: Telemetry = { enabled: false, shutdown: () => Promise.resolve() };

let esmHookRegistered = false;

/**
 * Starts OpenTelemetry for this process: OTLP/HTTP protobuf export of traces and metrics, and the http,
 * mongodb and pino instrumentations. Without an OTLP endpoint, or with OTEL_SDK_DISABLED, nothing is
 * started or even loaded, and the OpenTelemetry API stays a no-op.
 *
 * Instrumentations can only patch modules loaded after this call. A service's main.ts therefore imports
 * nothing but config and telemetry statically, awaits startTelemetry, and only then dynamically imports its
 * app module (`const { build } = await import('./app.js')`), which pulls in http, mongodb and the rest.
 * Loggers from createLogger get trace ids when they are created after this call.
 */
export async function startTelemetry({ serviceName, config }: TelemetryOptions): Promise<Telemetry> {
  const endpoints = otlpEndpoints(config);
  if (config.otel_sdk_disabled || endpoints === undefined) return DISABLED;

  const [
    { NodeSDK },
    { OTLPTraceExporter },
    { OTLPMetricExporter },
    { PeriodicExportingMetricReader },
    { envDetector, hostDetector, osDetector, processDetector },
    { ATTR_SERVICE_INSTANCE_ID, ATTR_SERVICE_NAME },
    { HttpInstrumentation },
    { MongoDBInstrumentation },
    { PinoInstrumentation },
  ] = await Promise.all([
    import('@opentelemetry/sdk-node'),
    import('@opentelemetry/exporter-trace-otlp-proto'),
    import('@opentelemetry/exporter-metrics-otlp-proto'),
    import('@opentelemetry/sdk-metrics'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/semantic-conventions'),
    import('@opentelemetry/instrumentation-http'),
    import('@opentelemetry/instrumentation-mongodb'),
    import('@opentelemetry/instrumentation-pino'),
  ]);
  // After the SDK's own imports, which need no patching and load faster without the hook in the way.
  registerEsmHook();

  const sdk = new NodeSDK({
    // NodeSDK merges detected attributes over its `resource` option, and its default detectors include one
    // that sets a random service.instance.id; so the identity comes from a detector placed last, where it
    // wins over the others (OTEL_RESOURCE_ATTRIBUTES included): node_id is what events and logs carry too.
    resourceDetectors: [
      processDetector,
      hostDetector,
      osDetector,
      envDetector,
      {
        detect: () => ({
          attributes: { [ATTR_SERVICE_NAME]: serviceName, [ATTR_SERVICE_INSTANCE_ID]: config.node_id },
        }),
      },
    ],
    traceExporter: new OTLPTraceExporter({ url: endpoints.traces }),
    metricReaders:
      endpoints.metrics === undefined
        ? []
        : [
            new PeriodicExportingMetricReader({
              exporter: new OTLPMetricExporter({ url: endpoints.metrics }),
            }),
          ],
    // Without an explicit list NodeSDK builds an OTLP log exporter from OTEL_* variables (default
    // localhost:4318). Logs go to stdout as JSON instead, so none is configured here.
    logRecordProcessors: [],
    instrumentations: [
      new HttpInstrumentation(),
      new MongoDBInstrumentation(),
      // Correlation only (trace_id/span_id in log lines); the lines themselves are shipped from stdout.
      new PinoInstrumentation({ disableLogSending: true }),
    ],
  });
  sdk.start();

  let stopping: Promise<void> | undefined;
  return { enabled: true, shutdown: () => (stopping ??= sdk.shutdown()) };
}

/**
 * Registered in code rather than with --experimental-loader so a service starts with plain `node main.js`;
 * opentelemetry-js doc/esm-support.md names this hook as the only supported one for ESM. Loader hooks are
 * process-wide and cannot be removed, hence once.
 */
function registerEsmHook(): void {
  if (esmHookRegistered) return;
  esmHookRegistered = true;
  // @types/node deprecates register in favour of the synchronous registerHooks, but the hook OpenTelemetry
  // supports is an asynchronous loader, which only register can install.
  // eslint-disable-next-line @typescript-eslint/no-deprecated
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);
}
