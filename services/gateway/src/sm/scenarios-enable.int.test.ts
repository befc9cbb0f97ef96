import { NS, xml } from '@holdfast/xmpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { header } from '../testing/raw-client.js';
import { SmClient } from '../testing/sm-client.js';
import {
  SM,
  childNames,
  isFeatures,
  isSm,
  isStreamError,
  resumeWith,
  stanzasCondition,
  startSmScenarios,
  streamsCondition,
  type SmScenarios,
} from '../testing/sm-scenarios.js';

// Spec §8 scenarios 1-9, 15, 26, 43, 44: the SM feature, <enable/>, counting, <failed/> on misplaced nonzas.

let sm: SmScenarios;
let noResume: SmScenarios;

beforeAll(async () => {
  [sm, noResume] = await Promise.all([
    startSmScenarios({ users: ['alice1', 'alice2', 'alice3', 'alice4', 'alice5', 'alice6', 'alice7'] }),
    startSmScenarios({ users: ['alice44'], env: { SM_HIBERNATION_TIME_S: '0' } }),
  ]);
});

afterAll(async () => {
  await Promise.all([sm.stop(), noResume.stop()]);
});

describe('stream management: feature and enable (spec §8)', () => {
  it('scenario 1: <sm/> is offered only after SASL, empty', async () => {
    const client = await SmClient.open(sm.port());
    try {
      client.write(header('localhost'));
      const before = await client.next(isFeatures);
      expect(before.getChild('mechanisms', NS.SASL)).toBeDefined();
      expect(before.getChild('sm', SM)).toBeUndefined();
    } finally {
      client.kill();
    }
    const authenticated = await sm.authenticated('alice1');
    const after = authenticated.received.filter(isFeatures);
    expect(after).toHaveLength(2);
    const offered = after[1]?.getChild('sm', SM);
    expect(offered).toBeDefined();
    expect(offered?.children).toEqual([]);
    expect(after[1]?.getChild('bind', NS.BIND)).toBeDefined();
  });

  it('scenario 2: <enable/> before bind fails with unexpected-request; after bind it is enabled', async () => {
    const alice = await sm.authenticated('alice1');
    const failed = await alice.enable();
    expect(failed.name).toBe('failed');
    expect(stanzasCondition(failed)).toBe('unexpected-request');
    expect(failed.attrs.h).toBeUndefined();
    const bind = await alice.bind('two');
    expect(bind.attrs.type).toBe('result');
    expect(alice.jid).toBe('alice1@localhost/two');
    const enabled = await alice.enable();
    expect(enabled.name).toBe('enabled');
    expect(alice.closed).toBe(false);
  });

  it('scenario 3: <enable/> without resume: <enabled/> has no id, resume or max', async () => {
    const alice = await sm.bound('alice2', 'three');
    const enabled = await alice.enable({});
    expect(enabled.name).toBe('enabled');
    expect(enabled.attrs).toEqual({ xmlns: SM });
  });

  it.each(['true', '1'])(
    "scenario 4: <enable resume='%s'/> gives an id, resume='true', max='5'",
    async (value) => {
      const alice = await sm.bound('alice2', `four-${value}`);
      const enabled = await alice.enable({ resume: value });
      expect(enabled.name).toBe('enabled');
      expect(enabled.attrs.id).toMatch(/^[A-Za-z0-9._~-]{12,64}$/);
      expect(enabled.attrs.resume).toBe('true');
      expect(enabled.attrs.max).toBe('5');
      expect(enabled.attrs.location).toBeUndefined();
    },
  );

  it.each([
    ['2', '2'],
    ['60', '5'],
    ['0', '5'],
    ['-3', '5'],
    ['2.5', '5'],
  ])(
    "scenario 5: <enable max='%s'/> gives max='%s' (§7.18: non-positive, non-integer ignored)",
    async (max, effective) => {
      const alice = await sm.bound('alice3', `five-${max}`);
      const enabled = await alice.enable({ resume: 'true', max });
      expect(enabled.name).toBe('enabled');
      expect(enabled.attrs.max).toBe(effective);
    },
  );

  it('scenario 6: a second <enable/> fails with unexpected-request and the stream goes on', async () => {
    const alice = await sm.bound('alice4', 'six');
    expect((await alice.enable()).name).toBe('enabled');
    const again = await alice.enable();
    expect(again.name).toBe('failed');
    expect(stanzasCondition(again)).toBe('unexpected-request');
    expect(again.attrs.h).toBeUndefined();
    expect(await alice.requestAck()).toBe(0);
    expect(alice.received.some(isStreamError)).toBe(false);
  });

  it("scenario 7: <r/> right after enabling gives <a h='0'/>", async () => {
    const alice = await sm.bound('alice4', 'seven');
    await alice.enable();
    expect(await alice.requestAck()).toBe(0);
  });

  it("scenario 8: roster get, presence and message, then <r/>: <a h='3'/> (nonzas not counted)", async () => {
    const alice = await sm.bound('alice5', 'eight');
    await alice.enable();
    alice.send(xml('iq', { type: 'get', id: 'roster1' }, xml('query', { xmlns: NS.ROSTER })));
    alice.send(xml('presence'));
    alice.send(xml('r', { xmlns: SM }));
    alice.send(xml('message', { to: 'alice5@localhost', id: 'self1', type: 'chat' }, xml('body', {}, 'x')));
    const first = await alice.next(isSm('a'));
    expect(first.attrs.h).toBe('2');
    expect(await alice.requestAck()).toBe(3);
    const roster = alice.received.find((e) => e.name === 'iq' && e.attrs.id === 'roster1');
    expect(roster?.attrs.type).toBe('result');
  });

  it("scenario 9: an iq the server rejects is counted: <a h='1'/>", async () => {
    const alice = await sm.bound('alice5', 'nine');
    await alice.enable();
    alice.send(xml('iq', { type: 'bogus', id: 'bad1' }, xml('query', { xmlns: NS.ROSTER })));
    expect(await alice.requestAck()).toBe(1);
    const error = alice.received.find((e) => e.name === 'iq' && e.attrs.id === 'bad1');
    expect(error?.attrs.type).toBe('error');
    expect(alice.closed).toBe(false);
  });

  it('scenario 15: <r/> before SM is enabled is stream error unsupported-stanza-type', async () => {
    const alice = await sm.bound('alice6', 'fifteen');
    alice.send(xml('r', { xmlns: SM }));
    const error = await alice.next(isStreamError);
    expect(streamsCondition(error)).toBe('unsupported-stanza-type');
    await alice.expectClosed();
    expect(alice.received.some(isSm('a'))).toBe(false);
  });

  it('scenario 26: <resume/> on a bound stream fails with unexpected-request', async () => {
    const old = await sm.bound('alice7', 'old26');
    const previd = (await old.enable()).attrs.id ?? '';
    const alice = await sm.bound('alice7', 'new26');
    const failed = await resumeWith(alice, previd, 0);
    expect(failed.name).toBe('failed');
    expect(stanzasCondition(failed)).toBe('unexpected-request');
    expect(failed.attrs.h).toBeUndefined();
    expect((await alice.enable()).name).toBe('enabled');
    expect(old.closed).toBe(false);
    expect(old.received.some(isStreamError)).toBe(false);
  });

  it('scenario 43: <resume/> on an unauthenticated stream fails with not-authorized', async () => {
    const owner = await sm.bound('alice7', 'owner43');
    const previd = (await owner.enable()).attrs.id ?? '';
    const client = await SmClient.open(sm.port());
    try {
      await client.openStream();
      const failed = await resumeWith(client, previd, 0);
      expect(failed.name).toBe('failed');
      expect(stanzasCondition(failed)).toBe('not-authorized');
      expect(failed.attrs.h).toBeUndefined();
      expect(await client.sees(isStreamError, 300)).toBe(false);
      expect(client.closed).toBe(false);
      expect(await owner.requestAck()).toBe(0);
    } finally {
      client.kill();
    }
  });

  it('scenario 44: with hibernation_time_s=0 <enabled/> has no id and <resume/> is feature-not-implemented', async () => {
    const alice = await noResume.bound('alice44', 'phone');
    const enabled = await alice.enable({ resume: 'true' });
    expect(enabled.name).toBe('enabled');
    expect(enabled.attrs).toEqual({ xmlns: SM });
    const again = await noResume.authenticated('alice44');
    const failed = await resumeWith(again, 'anything.atall', 0);
    expect(failed.name).toBe('failed');
    expect(childNames(failed)).toEqual([`{${NS.STANZA_ERROR}}feature-not-implemented`]);
    expect(failed.attrs.h).toBeUndefined();
  });
});
