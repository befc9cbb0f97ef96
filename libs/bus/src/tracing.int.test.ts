import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STREAMS, SmAcked, SmSetHibernationDeadline, sessionFilter } from '@holdfast/events';
import { eventually, recordingLogger, testInfrastructure, uniqueId } from '@holdfast/testing';

import { Bus } from './bus.js';

const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
let bus: Bus;

beforeAll(async () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  bus = await Bus.connect({
    url: testInfrastructure().natsUrl,
    name: 'trace-test',
    node: 'n',
    logger: recordingLogger(),
  });
  await bus.ensureStreams();
});

afterAll(async () => {
  await bus.drain();
  await provider.shutdown();
  trace.disable();
  propagation.disable();
  context.disable();
});

describe('trace context over NATS', () => {
  it('links the consumer span to the publisher span through message headers', async () => {
    const session = uniqueId('s');
    const tracer = trace.getTracer('test');
    await tracer.startActiveSpan('handle client stanza', async (root) => {
      await bus.publish(SmAcked, { id: `${session}.1`, data: { session, acked: 1 } });
      root.end();
    });
    const consumption = await bus.consume({
      stream: STREAMS.session.name,
      durable: uniqueId('c'),
      filterSubjects: [sessionFilter(session)],
      handler: () => Promise.resolve(),
    });
    const spans = await eventually(() => {
      const all = exporter.getFinishedSpans();
      return all.some((span) => span.name === 'process sm.acked') ? all : undefined;
    });
    await consumption.stop();

    const root = spans.find((span) => span.name === 'handle client stanza');
    const publish = spans.find((span) => span.name === 'publish sm.acked');
    const process = spans.find((span) => span.name === 'process sm.acked');
    expect(root && publish && process).toBeTruthy();
    expect(publish?.spanContext().traceId).toBe(root?.spanContext().traceId);
    expect(process?.spanContext().traceId).toBe(root?.spanContext().traceId);
    expect(process?.parentSpanContext?.spanId).toBe(publish?.spanContext().spanId);
    expect(process?.attributes['messaging.system']).toBe('nats');
  });

  it('carries the trace into request handlers', async () => {
    const service = bus.serve(SmSetHibernationDeadline, (req) =>
      Promise.resolve({ ok: true, deadline: req.deadline }),
    );
    exporter.reset();
    await bus.request(SmSetHibernationDeadline, {
      session: 'sess-0001',
      deadline: '2026-11-21T10:05:00.000Z',
    });
    await service.stop();
    const send = exporter.getFinishedSpans().find((span) => span.name === 'send sm.hibernation.set_deadline');
    const handle = exporter
      .getFinishedSpans()
      .find((span) => span.name === 'process sm.hibernation.set_deadline');
    expect(send && handle).toBeTruthy();
    expect(handle?.parentSpanContext?.spanId).toBe(send?.spanContext().spanId);
  });
});
