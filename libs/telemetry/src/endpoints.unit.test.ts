import { describe, expect, it } from 'vitest';

import { otlpEndpoints } from './endpoints.js';

describe('otlpEndpoints', () => {
  it('exports nothing when no endpoint is set', () => {
    expect(
      otlpEndpoints({
        otel_exporter_otlp_endpoint: undefined,
        otel_exporter_otlp_traces_endpoint: undefined,
      }),
    ).toBeUndefined();
  });

  it('appends the signal path to the base endpoint, with or without a trailing slash', () => {
    const expected = {
      traces: 'http://collector:4318/v1/traces',
      metrics: 'http://collector:4318/v1/metrics',
    };
    for (const base of ['http://collector:4318', 'http://collector:4318/']) {
      expect(
        otlpEndpoints({ otel_exporter_otlp_endpoint: base, otel_exporter_otlp_traces_endpoint: undefined }),
      ).toEqual(expected);
    }
    expect(
      otlpEndpoints({
        otel_exporter_otlp_endpoint: 'https://gw.example/otlp',
        otel_exporter_otlp_traces_endpoint: undefined,
      }),
    ).toEqual({ traces: 'https://gw.example/otlp/v1/traces', metrics: 'https://gw.example/otlp/v1/metrics' });
  });

  it('uses the traces endpoint as given, and exports no metrics when it is the only one set', () => {
    expect(
      otlpEndpoints({
        otel_exporter_otlp_endpoint: undefined,
        otel_exporter_otlp_traces_endpoint: 'http://tempo:4318/custom',
      }),
    ).toEqual({ traces: 'http://tempo:4318/custom' });
    expect(
      otlpEndpoints({
        otel_exporter_otlp_endpoint: 'http://collector:4318',
        otel_exporter_otlp_traces_endpoint: 'http://tempo:4318/custom',
      }),
    ).toEqual({ traces: 'http://tempo:4318/custom', metrics: 'http://collector:4318/v1/metrics' });
  });
});
