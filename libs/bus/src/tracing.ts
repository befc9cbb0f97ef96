import {
  context,
  propagation,
  trace,
  type Context,
  type TextMapGetter,
  type TextMapSetter,
} from '@opentelemetry/api';
import type { MsgHdrs } from '@nats-io/nats-core';

/**
 * NATS has no maintained OpenTelemetry instrumentation, so the bus makes its own spans (PRODUCER on
 * publish and request, CONSUMER on process and serve) and carries the W3C trace context in headers.
 */
export const tracer = trace.getTracer('@holdfast/bus');

const setter: TextMapSetter<MsgHdrs> = {
  set: (carrier, key, value) => {
    carrier.set(key, value);
  },
};

const getter: TextMapGetter<MsgHdrs | undefined> = {
  keys: (carrier) => (carrier ? carrier.keys() : []),
  get: (carrier, key) => carrier?.get(key) || undefined,
};

export function injectContext(headers: MsgHdrs): void {
  propagation.inject(context.active(), headers, setter);
}

export function extractContext(headers: MsgHdrs | undefined): Context {
  return propagation.extract(context.active(), headers, getter);
}
