import type { Config } from '@holdfast/config';

export type EndpointConfig = Pick<
  Config,
  'otel_exporter_otlp_endpoint' | 'otel_exporter_otlp_traces_endpoint'
>;

/** Where OTLP/HTTP exports go; `metrics` is absent when only a traces endpoint is configured. */
export interface OtlpEndpoints {
  readonly traces: string;
  readonly metrics?: string;
}

/**
 * The export URLs for `config`, or undefined when no endpoint is configured (then nothing is exported).
 * Derived the way the OTLP exporters derive them from the environment (otlp-exporter-base
 * `getNodeHttpConfigurationFromEnvironment`): a signal-specific endpoint is used as given, the base endpoint
 * gets `v1/<signal>` appended after a slash. Explicit URLs are needed because the exporters would otherwise
 * read process.env, not the validated config.
 */
export function otlpEndpoints(config: EndpointConfig): OtlpEndpoints | undefined {
  const base = config.otel_exporter_otlp_endpoint;
  const traces = config.otel_exporter_otlp_traces_endpoint;
  if (traces !== undefined) {
    const url = new URL(traces).toString();
    return base === undefined ? { traces: url } : { traces: url, metrics: signalUrl(base, 'v1/metrics') };
  }
  if (base === undefined) return undefined;
  return { traces: signalUrl(base, 'v1/traces'), metrics: signalUrl(base, 'v1/metrics') };
}

function signalUrl(base: string, path: string): string {
  return `${base.endsWith('/') ? base : `${base}/`}${path}`;
}
