import { NS, parseJid, xml, type Element } from '@holdfast/xmpp';
import { describe, expect, it } from 'vitest';

import { MAM_EXTENDED } from './mam/results.js';
import { serverIq } from './server-iq.js';

const DOMAIN = 'example.com';
const ALICE = parseJid('alice@example.com/phone');

function iq(type: string, to: string | undefined, payload: Element): Element {
  return xml('iq', { type, id: 'i1', from: ALICE.toString(), to }, payload);
}

const features = (reply: Element | undefined): string[] =>
  reply
    ?.getChild('query', NS.DISCO_INFO)
    ?.getChildren('feature')
    .map((feature) => feature.attrs.var ?? '') ?? [];

const condition = (reply: Element | undefined): string | undefined =>
  reply?.getChild('error')?.getChildElements()[0]?.name;

describe('serverIq', () => {
  it("advertises the archive on the account's own bare JID (XEP-0313 §7, XEP-0359)", () => {
    const reply = serverIq(iq('get', 'alice@example.com', xml('query', { xmlns: NS.DISCO_INFO })), {
      domain: DOMAIN,
      jid: ALICE,
      mam: true,
    });
    expect(reply?.attrs).toMatchObject({ type: 'result', from: 'alice@example.com', to: ALICE.toString() });
    expect(reply?.getChild('query', NS.DISCO_INFO)?.getChild('identity')?.attrs).toEqual({
      category: 'account',
      type: 'registered',
    });
    expect(features(reply)).toEqual([NS.DISCO_INFO, NS.MAM, MAM_EXTENDED, NS.SID]);
  });

  it('advertises no archive when MAM is off, and none on the domain', () => {
    const own = serverIq(iq('get', undefined, xml('query', { xmlns: NS.DISCO_INFO })), {
      domain: DOMAIN,
      jid: ALICE,
      mam: false,
    });
    expect(features(own)).toEqual([NS.DISCO_INFO]);
    const domain = serverIq(iq('get', DOMAIN, xml('query', { xmlns: NS.DISCO_INFO })), {
      domain: DOMAIN,
      jid: ALICE,
      mam: true,
    });
    expect(features(domain)).not.toContain(NS.MAM);
  });

  it("refuses a query of another user's archive with forbidden (XEP-0313 §8.1)", () => {
    const reply = serverIq(iq('set', 'bob@example.com', xml('query', { xmlns: NS.MAM })), {
      domain: DOMAIN,
      jid: ALICE,
      mam: true,
    });
    expect(reply?.attrs.type).toBe('error');
    expect(reply?.getChild('error')?.attrs.type).toBe('auth');
    expect(condition(reply)).toBe('forbidden');
  });

  it("answers service-unavailable for another user's disco#info, and for archives when MAM is off", () => {
    const disco = serverIq(iq('get', 'bob@example.com', xml('query', { xmlns: NS.DISCO_INFO })), {
      domain: DOMAIN,
      jid: ALICE,
      mam: true,
    });
    expect(condition(disco)).toBe('service-unavailable');
    const off = serverIq(iq('set', 'bob@example.com', xml('query', { xmlns: NS.MAM })), {
      domain: DOMAIN,
      jid: ALICE,
      mam: false,
    });
    expect(condition(off)).toBe('service-unavailable');
  });
});
