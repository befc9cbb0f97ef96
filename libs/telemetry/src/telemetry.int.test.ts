import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { gunzipSync } from 'node:zlib';

import { context, logs, metrics, propagation, trace } from '@opentelemetry/api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '@holdfast/config';

import { createLogger } from './logger.js';
import { startTelemetry } from './telemetry.js';

const SERVICE = 'holdfast-telemetry-test';
const NODE = 'telemetry-test-node-7';

interface Received {
  readonly path: string;
  readonly contentType: string | undefined;
  readonly body: Buffer;
}

/** A stand-in OTLP/HTTP collector on loopback that keeps every request body, keyed by path. */
async function recordingCollector(): Promise<{
  readonly url: string;
  readonly received: Received[];
  bodies(path: string): Received[];
  close(): Promise<void>;
}> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      received.push({
        path: req.url ?? '',
        contentType: req.headers['content-type'],
        // OTEL_EXPORTER_OTLP_COMPRESSION=gzip in the environment would otherwise hide the span name.
        body: req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw,
      });
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    bodies: (path) => received.filter((request) => request.path === path),
    close: async () => {
      // The exporters keep their connections alive; close() alone would wait for them.
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

function jsonLines(): { stream: PassThrough; lines: () => Record<string, unknown>[] } {
  const stream = new PassThrough();
  let text = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => (text += chunk));
  return {
    stream,
    lines: () =>
      text
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 300));

let collector: Awaited<ReturnType<typeof recordingCollector>>;

beforeEach(async () => {
  collector = await recordingCollector();
});

afterEach(async () => {
  await collector.close();
  // The SDK registers process-wide API globals, and the API refuses to replace them; later tests need the
  // no-op defaults back.
  trace.disable();
  metrics.disable();
  propagation.disable();
  context.disable();
  logs.disable();
});

describe('startTelemetry', () => {
  it('exports spans and metrics over OTLP/HTTP protobuf and puts trace ids into log lines', async () => {
    const { config } = loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, NODE_ID: NODE });
    const telemetry = await startTelemetry({ serviceName: SERVICE, config });
    expect(telemetry.enabled).toBe(true);

    const log = jsonLines();
    const logger = createLogger({ service: SERVICE, node: NODE, level: 'info', destination: log.stream });
    const counter = metrics.getMeter('telemetry-test').createCounter('holdfast_test_stanzas_total');
    const traceId = trace
      .getTracer('telemetry-test')
      .startActiveSpan('resume session telemetry-test', (span) => {
        counter.add(3);
        logger.info('inside the span');
        span.end();
        return span.spanContext().traceId;
      });
    await telemetry.shutdown();

    const traces = collector.bodies('/v1/traces');
    expect(traces.length).toBeGreaterThan(0);
    expect(traces.every((request) => request.contentType === 'application/x-protobuf')).toBe(true);
    const exported = traces.find((request) => request.body.includes('resume session telemetry-test'));
    expect(exported, 'a trace export carrying the span name').toBeDefined();
    expect(exported?.body.includes(SERVICE)).toBe(true);
    expect(exported?.body.includes(NODE)).toBe(true);

    const metricExports = collector.bodies('/v1/metrics');
    expect(metricExports.some((request) => request.body.includes('holdfast_test_stanzas_total'))).toBe(true);

    expect(log.lines()).toEqual([
      expect.objectContaining({ msg: 'inside the span', service: SERVICE, node: NODE, trace_id: traceId }),
    ]);
  });

  it('starts nothing when no OTLP endpoint is configured', async () => {
    const { config } = loadConfig({ NODE_ID: NODE });
    const telemetry = await startTelemetry({ serviceName: SERVICE, config });
    expect(telemetry.enabled).toBe(false);

    const span = trace.getTracer('telemetry-test').startSpan('not exported');
    expect(span.isRecording()).toBe(false);
    metrics.getMeter('telemetry-test').createCounter('holdfast_test_unexported_total').add(1);
    span.end();
    await telemetry.shutdown();
    await settle();
    expect(collector.received).toHaveLength(0);
  });

  it('starts nothing when OTEL_SDK_DISABLED is true, even with an endpoint', async () => {
    const { config } = loadConfig({
      OTEL_SDK_DISABLED: 'true',
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
      NODE_ID: NODE,
    });
    const telemetry = await startTelemetry({ serviceName: SERVICE, config });
    expect(telemetry.enabled).toBe(false);

    const span = trace.getTracer('telemetry-test').startSpan('not exported');
    expect(span.isRecording()).toBe(false);
    span.end();
    await telemetry.shutdown();
    await settle();
    expect(collector.received).toHaveLength(0);
  });
});
