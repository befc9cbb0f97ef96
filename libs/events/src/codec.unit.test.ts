import { z } from 'zod';
import { describe, expect, it } from 'vitest';

import {
  S2sClosed,
  SmAckDelayed,
  SmMamQueried,
  SmSetHibernationDeadline,
  StanzaReceived,
  sessionFilter,
  sessionLaneFilter,
  sessionTypeFilter,
} from './catalog.js';
import { DecodeError, decodeEvent, decodeReply, encodeEvent, encodeReply, encodeRequest } from './codec.js';
import { defineEvent } from './definition.js';

const metadata = { id: 'sess-0001.enabled', at: '2026-11-21T10:00:00.000Z', node: 'gw-1' };
const bytes = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));

describe('event codec', () => {
  it('round-trips a catalog event with its metadata', () => {
    const data = { session: 'sess-0001', jid: 'alice@home.example/phone', unacked: 3, queued: 4 };
    const decoded = decodeEvent(encodeEvent(SmAckDelayed, { data, metadata }));
    expect(decoded).toEqual({ type: 'sm.ack_delayed', data, metadata: { ...metadata, version: 1 } });
    if (decoded.type === 'sm.ack_delayed') expect(decoded.data.queued).toBe(4);
  });

  it('derives subjects from the aggregate key', () => {
    const data = { session: 'sess-0001', jid: 'alice@home.example/phone', unacked: 0, queued: 0 };
    expect(SmAckDelayed.subject(data)).toMatch(/^hf\.session\.\d+\.sess-0001\.sm\.ack_delayed$/);
    expect(SmAckDelayed.subject(data).startsWith(sessionFilter('sess-0001').slice(0, -1))).toBe(true);
    // Session-log lanes: one wildcard selects a lane, `f.>` the whole fence.
    const received = StanzaReceived.subject({ session: 'sess-0001', stanza: '<message/>' });
    expect(received).toMatch(/^hf\.session\.\d+\.sess-0001\.in\.stanza\.received$/);
    expect(received.startsWith(sessionLaneFilter('sess-0001', 'in').slice(0, -1))).toBe(true);
    expect(sessionLaneFilter('sess-0001', 'f')).toMatch(/\.sess-0001\.f\.>$/);
    expect(
      S2sClosed.subject({
        localDomain: 'home.example',
        remoteDomains: ['remote.example'],
        direction: 'in',
        reason: 'closed',
        at: metadata.at,
      }),
    ).toBe('hf.s2s.home=2Eexample.closed');
  });

  it('keeps sm.mam_queried outside the lanes: it moves no fence, and neither the projection nor the timers read it', () => {
    const subject = SmMamQueried.subject({ session: 'sess-0001', jid: 'alice@home.example/phone' });
    expect(subject).toBe(sessionTypeFilter('sess-0001', 'sm.mam_queried'));
    // session-state projects `f.>`, the timeout service reads `f.state.>`: neither prefix matches.
    expect(subject.startsWith(sessionLaneFilter('sess-0001', 'f').slice(0, -1))).toBe(false);
    expect(subject.startsWith(sessionLaneFilter('sess-0001', 'f.state').slice(0, -1))).toBe(false);
  });

  it('refuses to encode an invalid payload', () => {
    const data = { session: 'x', jid: '', unacked: 0, queued: 0 };
    expect(() => encodeEvent(SmAckDelayed, { data, metadata })).toThrow(DecodeError);
  });

  it('rejects garbage, unknown types, future versions and invalid payloads with distinct codes', () => {
    const wire = {
      type: 'sm.enabled',
      version: 1,
      ...metadata,
      data: { session: 'sess-0001', jid: 'a@b', resumable: true },
    };
    const cases: [Uint8Array, string][] = [
      [new TextEncoder().encode('{not json'), 'HF_EVENT_NOT_JSON'],
      [bytes({ ...wire, type: 'sm.nope' }), 'HF_EVENT_UNKNOWN_TYPE'],
      [bytes({ ...wire, version: 2 }), 'HF_EVENT_FROM_FUTURE'],
      [bytes({ ...wire, data: { session: 'sess-0001' } }), 'HF_EVENT_INVALID'],
      [bytes({ type: 'sm.enabled' }), 'HF_EVENT_INVALID'],
    ];
    for (const [input, code] of cases) {
      expect(() => decodeEvent(input)).toThrow(expect.objectContaining({ name: 'DecodeError', code }));
    }
  });

  it('upcasts old payload versions step by step before validating', () => {
    const v3 = defineEvent({
      type: 'test.renamed',
      version: 3,
      stream: 'session',
      schema: z.object({ fullJid: z.string(), priority: z.number() }),
      subject: () => 'hf.session.0.test',
      upcasters: {
        1: (d) => ({ fullJid: (d as { jid: string }).jid }),
        2: (d) => ({ ...(d as object), priority: 0 }),
      },
    });
    let data: unknown = { jid: 'a@b/c' };
    for (let version = 1; version < v3.version; version++) data = v3.upcasters[version]?.(data);
    expect(v3.schema.parse(data)).toEqual({ fullJid: 'a@b/c', priority: 0 });
  });
});

describe('command codec', () => {
  it('validates requests and replies on both ends', () => {
    const request = { session: 'sess-0001', deadline: '2026-11-21T10:05:00.000Z' };
    expect(JSON.parse(new TextDecoder().decode(encodeRequest(SmSetHibernationDeadline, request)))).toEqual(
      request,
    );
    expect(() => encodeRequest(SmSetHibernationDeadline, { ...request, deadline: 'soon' })).toThrow(
      DecodeError,
    );
    const reply = { ok: false as const, reason: 'not-hibernating' as const };
    expect(decodeReply(SmSetHibernationDeadline, encodeReply(SmSetHibernationDeadline, reply))).toEqual(
      reply,
    );
    expect(() => decodeReply(SmSetHibernationDeadline, bytes({ ok: true }))).toThrow(DecodeError);
  });
});
