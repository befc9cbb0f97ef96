import { NS, xml } from '@holdfast/xmpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { SmClient } from '../testing/sm-client.js';
import {
  SM,
  chat,
  childNames,
  isMessage,
  isSm,
  isStreamError,
  resumeWith,
  startSmScenarios,
  type SmScenarios,
} from '../testing/sm-scenarios.js';

// Spec §8 scenarios 10-14, 16, 17: the server's ack requests (§2.6) and the client's <a/> checks (§1.3, §1.5).

let sm: SmScenarios;

beforeAll(async () => {
  sm = await startSmScenarios({
    users: ['alice10', 'alice11', 'alice12', 'alice13', 'alice14', 'alice16', 'alice17', 'bob10'],
  });
});

afterAll(async () => {
  await sm.stop();
});

/** Alice bound and resumable, and bob bound (no SM) to send her messages. */
async function pair(
  user: string,
  resource: string,
): Promise<{ alice: SmClient; bob: SmClient; previd: string }> {
  const [alice, bob] = await Promise.all([sm.bound(user, resource), sm.bound('bob10', `to-${user}`)]);
  const enabled = await alice.enable();
  expect(enabled.name).toBe('enabled');
  return { alice, bob, previd: enabled.attrs.id ?? '' };
}

/** Bob sends messages `ids` to alice, who receives them all. */
async function deliver(bob: SmClient, alice: SmClient, ids: readonly string[]): Promise<void> {
  for (const id of ids) bob.send(chat(alice.jid, id));
  for (const id of ids) await alice.next(isMessage(id));
}

describe('stream management: acks (spec §8)', () => {
  it('scenario 10: one <r/> after the first stanza, none more while it is outstanding', async () => {
    const { alice, bob } = await pair('alice10', 'phone');
    bob.send(chat(alice.jid, 'm1'));
    await alice.next(isMessage('m1'));
    await alice.next(isSm('r'), 1000);
    const requested = Date.now();
    await deliver(bob, alice, ['m2', 'm3', 'm4']);
    // Past max_ack_delay_s (2 s), short of the read timeout (4 s): c2s only emits sm.ack_delayed.
    expect(await alice.sees(isSm('r'), requested + 2600 - Date.now())).toBe(false);
    expect(alice.received.filter(isSm('r'))).toHaveLength(1);
    expect(alice.closed).toBe(false);
  });

  it("scenario 11: after <a h='n'/> no new <r/> until another stanza is sent", async () => {
    const { alice, bob } = await pair('alice11', 'phone');
    await deliver(bob, alice, ['m1']);
    await alice.next(isSm('r'), 1000);
    await deliver(bob, alice, ['m2']);
    alice.ack(2);
    expect(await alice.sees(isSm('r'), 1000)).toBe(false);
    await deliver(bob, alice, ['m3']);
    await alice.next(isSm('r'), 1000);
    expect(alice.received.filter(isSm('r'))).toHaveLength(2);
  });

  it('scenario 12: <a/> above the send count is undefined-condition with <handled-count-too-high/>; revoked', async () => {
    const { alice, bob, previd } = await pair('alice12', 'phone');
    await deliver(bob, alice, ['m1', 'm2']);
    alice.ack(3);
    const error = await alice.next(isStreamError);
    const before = alice.received[alice.received.indexOf(error) - 1];
    expect(before?.toString()).toBe(xml('a', { xmlns: SM, h: '0' }).toString());
    expect(childNames(error).filter((name) => name !== `{${NS.STREAM_ERROR}}text`)).toEqual([
      `{${NS.STREAM_ERROR}}undefined-condition`,
      `{${SM}}handled-count-too-high`,
    ]);
    const tooHigh = error.getChild('handled-count-too-high', SM);
    expect(tooHigh?.attrs.h).toBe('3');
    expect(tooHigh?.attrs['send-count']).toBe('2');
    await alice.expectClosed();
    expect(alice.streamEnded).toBe(true);

    const again = await sm.authenticated('alice12');
    const failed = await resumeWith(again, previd, 2);
    expect(failed.name).toBe('failed');
    expect(childNames(failed)).toEqual([`{${NS.STANZA_ERROR}}item-not-found`]);
    expect(failed.attrs.h).toBeUndefined();
  });

  it('scenario 13: <a/> below the last ack is undefined-condition with text only', async () => {
    const { alice, bob } = await pair('alice13', 'phone');
    await deliver(bob, alice, ['m1', 'm2']);
    alice.ack(2);
    expect(await alice.sees(isStreamError, 300)).toBe(false);
    alice.ack(1);
    const error = await alice.next(isStreamError);
    expect(childNames(error)).toEqual([
      `{${NS.STREAM_ERROR}}undefined-condition`,
      `{${NS.STREAM_ERROR}}text`,
    ]);
    expect(error.getChildText('text', NS.STREAM_ERROR)).not.toBe('');
    await alice.expectClosed();
  });

  it('scenario 14: <a/> without h is stream error invalid-xml', async () => {
    const { alice } = await pair('alice14', 'phone');
    alice.send(xml('a', { xmlns: SM }));
    const error = await alice.next(isStreamError);
    expect(childNames(error).filter((name) => name !== `{${NS.STREAM_ERROR}}text`)).toEqual([
      `{${NS.STREAM_ERROR}}invalid-xml`,
    ]);
    await alice.expectClosed();
  });

  it('scenario 16: idle 4 s brings <r/>; answered the stream stays, unanswered 4 s more it drops and resumes', async () => {
    const [answering, silent] = await Promise.all([
      sm.bound('alice16', 'answering'),
      sm.bound('alice16', 'silent'),
    ]);
    const [, enabled] = await Promise.all([answering.enable(), silent.enable()]);
    const previd = enabled.attrs.id ?? '';
    const start = Date.now();

    const probe = async (client: SmClient): Promise<number> => {
      await client.next(isSm('r'), 5500);
      return Date.now() - start;
    };
    const [answeredAt, silentAt] = await Promise.all([probe(answering), probe(silent)]);
    expect(answeredAt).toBeGreaterThanOrEqual(3800);
    expect(silentAt).toBeGreaterThanOrEqual(3800);
    answering.ack(0);

    await silent.expectClosed(5500);
    expect(Date.now() - start - silentAt).toBeGreaterThanOrEqual(3800);
    expect(silent.received.some(isStreamError)).toBe(false);
    expect(answering.closed).toBe(false);
    expect(answering.received.some(isStreamError)).toBe(false);

    const again = await sm.authenticated('alice16');
    const resumed = await resumeWith(again, previd, 0);
    expect(resumed.name).toBe('resumed');
    expect(resumed.attrs).toMatchObject({ previd, h: '0' });
    expect(again.jid).toBe('');
    expect(await again.requestAck()).toBe(0);
  });

  it('scenario 17: no <r/> while CSI-inactive below the threshold; <active/> forces one at once', async () => {
    const { alice, bob } = await pair('alice17', 'phone');
    alice.send(xml('inactive', { xmlns: NS.CSI }));
    for (const id of ['m1', 'm2', 'm3']) bob.send(chat(alice.jid, id));
    expect(await alice.sees(isSm('r'), 1500)).toBe(false);
    alice.send(xml('active', { xmlns: NS.CSI }));
    await alice.next(isSm('r'), 1000);
    for (const id of ['m1', 'm2', 'm3']) expect(alice.received.some(isMessage(id))).toBe(true);
    expect(alice.received.filter(isSm('r'))).toHaveLength(1);
  });
});
