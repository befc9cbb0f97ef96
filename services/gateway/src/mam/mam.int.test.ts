import { MamArchive } from '@holdfast/store';
import { NS, xml, type Element } from '@holdfast/xmpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startCluster, type TestCluster } from '../testing/cluster.js';
import { finOf, mamQuery, mamResults, stanzaIdBy, type MamQueryOptions } from '../testing/mam.js';
import { SmClient } from '../testing/sm-client.js';
import { TestClient } from '../testing/xmpp-client.js';

/**
 * XEP-0313 message archive management against two real gateways (their own NATS connections, one
 * MongoDB-wire database) with xmpp.js clients over TCP + STARTTLS (and a scripted client without SM
 * where every copy must show): archiving as messages are routed, stanza-ids (XEP-0359), queries with
 * their filters and paging (XEP-0059), errors, disco; and a gateway with MAM off.
 */

const USERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'gina', 'pam', 'quinn'];
/** The scripted client authenticates with PLAIN on a plaintext stream. */
const PLAIN = { C2S_REQUIRE_ENCRYPTION: 'false', SASL_ALLOW_PLAIN_WITHOUT_TLS: 'true' };

let cluster: TestCluster;
let off: TestCluster;
const clients: TestClient[] = [];
const raw: SmClient[] = [];

beforeAll(async () => {
  [cluster, off] = await Promise.all([
    startCluster({ gateways: 2, env: PLAIN }),
    startCluster({ gateways: 1, env: { ...PLAIN, MAM_ENABLED: 'false' } }),
  ]);
  const now = new Date();
  for (const name of USERS) {
    await cluster.accounts.add(name, `${name}-pw`, now);
    await off.accounts.add(name, `${name}-pw`, now);
  }
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.stop()));
  for (const client of raw) client.kill();
  await Promise.all([cluster.stop(), off.stop()]);
});

async function login(user: string, resource: string, gateway = 0, on = cluster): Promise<TestClient> {
  const client = await TestClient.connect({
    service: on.service(gateway),
    domain: on.domain,
    username: user,
    password: `${user}-pw`,
    resource,
    timeout: 10_000,
  });
  clients.push(client);
  await client.available();
  return client;
}

function chat(to: string, id: string, ...extra: Element[]): Element {
  return xml('message', { to, id, type: 'chat' }, xml('body', {}, `body of ${id}`), ...extra);
}

let queries = 0;

/** Sends a MAM query and waits for its iq answer; returns the results that came before it. */
async function query(
  client: TestClient,
  options: MamQueryOptions = {},
): Promise<{ iq: Element; ids: string[]; bodies: string[]; results: ReturnType<typeof mamResults> }> {
  queries += 1;
  const id = `mam${queries}`;
  await client.send(mamQuery(id, options));
  const iq = await client.waitFor((s) => s.is('iq') && s.attrs.id === id);
  const at = client.received.indexOf(iq);
  const results = mamResults(client.received, id);
  // XEP-0313 §4: every result of this query comes before its iq result.
  const positions = client.received.flatMap((s, index) =>
    s.is('message') && s.getChild('result', NS.MAM)?.attrs.queryid === id ? [index] : [],
  );
  expect(positions).toHaveLength(results.length);
  expect(positions.every((index) => index < at)).toBe(true);
  return {
    iq,
    results,
    ids: results.map((r) => r.id),
    bodies: results.map((r) => r.message.getChildText('body') ?? ''),
  };
}

const conditionOf = (iq: Element): string | undefined => iq.getChild('error')?.getChildElements()[0]?.name;

/** Sends `ids` from `from` to `to` one after another, each once it arrived (archive order = send order). */
async function converse(from: TestClient, to: TestClient, ids: readonly string[]): Promise<Element[]> {
  const arrived: Element[] = [];
  for (const id of ids) {
    await from.send(chat(to.jid, id));
    arrived.push(await to.waitFor((s) => s.is('message') && s.attrs.id === id));
  }
  return arrived;
}

describe('MAM (XEP-0313): archiving as messages are routed', () => {
  it("archives a chat for both sides; the recipient's copy carries its stanza-id, a forged one is stripped", async () => {
    const alice = await login('alice', 'phone', 0);
    const bob = await login('bob', 'desk', 1);
    await bob.send(
      chat(
        alice.jid,
        'm1',
        xml('stanza-id', { xmlns: NS.SID, by: 'alice@localhost', id: 'forged' }),
        xml('stanza-id', { xmlns: NS.SID, by: 'ALICE@localhost', id: 'forged-too' }),
        xml('stanza-id', { xmlns: NS.SID, by: 'room@muc.example', id: 'kept' }),
        xml('origin-id', { xmlns: NS.SID, id: 'origin-1' }),
      ),
    );
    const delivered = await alice.waitFor((s) => s.is('message') && s.attrs.id === 'm1');
    const ids = delivered.getChildren('stanza-id', NS.SID);
    expect(ids.map((child) => [child.attrs.by, child.attrs.id === 'forged'])).toEqual([
      ['room@muc.example', false],
      ['alice@localhost', false],
    ]);
    const stanzaId = stanzaIdBy(delivered, 'alice@localhost');
    expect(stanzaId).toMatch(/^[0-9a-z]{12}-[A-Za-z0-9_-]+$/);
    expect(delivered.getChild('origin-id', NS.SID)?.attrs.id).toBe('origin-1');

    const inbox = await query(alice, { fields: { with: 'bob@localhost' } });
    expect(inbox.ids).toEqual([stanzaId]);
    const [archived] = inbox.results;
    expect(archived?.message.attrs).toMatchObject({ from: bob.jid, to: alice.jid, id: 'm1', type: 'chat' });
    // The archived copy is the message as routed: no forged ids, and not its own stanza-id.
    expect(archived?.message.getChildren('stanza-id', NS.SID).map((c) => c.attrs.id)).toEqual(['kept']);
    expect(Math.abs(Date.parse(archived?.stamp ?? '') - Date.now())).toBeLessThan(10_000);
    expect(finOf(inbox.iq)).toMatchObject({ complete: 'true', first: stanzaId, last: stanzaId });
    expect(inbox.iq.attrs).toMatchObject({ type: 'result', from: 'alice@localhost' });

    // The sender's archive has its own entry, under its own id; the sender's copy is never stamped.
    const outbox = await query(bob, { fields: { with: 'alice@localhost' } });
    expect(outbox.bodies).toEqual(['body of m1']);
    expect(outbox.ids[0]).not.toBe(stanzaId);
  });

  it('archives what the XEP asks for only: not chat states, headlines, errors or no-store messages', async () => {
    const carol = await login('carol', 'a', 0);
    const dave = await login('dave', 'b', 1);
    await dave.send(
      xml(
        'message',
        { to: carol.jid, id: 'state', type: 'chat' },
        xml('composing', { xmlns: 'http://jabber.org/protocol/chatstates' }),
      ),
    );
    await dave.send(xml('message', { to: carol.jid, id: 'news', type: 'headline' }, xml('body', {}, 'news')));
    await dave.send(chat(carol.jid, 'secret', xml('no-store', { xmlns: NS.HINTS })));
    await dave.send(chat(carol.jid, 'kept'));
    for (const id of ['state', 'news', 'secret']) {
      const got = await carol.waitFor((s) => s.attrs.id === id);
      expect(stanzaIdBy(got, 'carol@localhost'), id).toBeUndefined();
    }
    const kept = await carol.waitFor((s) => s.attrs.id === 'kept');
    expect(stanzaIdBy(kept, 'carol@localhost')).toBeDefined();
    expect((await query(carol, { fields: { with: 'dave@localhost' } })).bodies).toEqual(['body of kept']);
  });

  it('gives an offline message its stanza-id too, and archives it once', async () => {
    const erin = await login('erin', 'x', 1);
    await erin.send(chat('frank@localhost', 'while-away'));
    // frank has no resource: the message goes to offline storage, stamped and archived already.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const frank = await login('frank', 'later', 0);
    const stored = await frank.waitFor((s) => s.attrs.id === 'while-away');
    expect(stored.getChild('delay', NS.DELAY)).toBeDefined();
    const id = stanzaIdBy(stored, 'frank@localhost');
    expect((await query(frank, { fields: { with: 'erin@localhost' } })).ids).toEqual([id]);
  });

  it('stores a delivery retried under the same origin once, with the same stanza-id', async () => {
    // Gina without SM, so both deliveries show (an SM session's log would store the second once).
    const gina = await SmClient.bound(cluster.gateways[0]?.listening.c2sPort ?? 0, 'gina', 'gina-pw', 'r');
    raw.push(gina);
    const carol = await login('carol', 'retry', 1);
    const gateway = cluster.gateways[0]?.app.gateway;
    if (gateway === undefined) throw new Error('no gateway');
    // A client stanza as its stream hands it to routing (`from` stamped), routed twice under one origin,
    // as when its delivery is carried out again.
    const stanza = (): Element =>
      xml(
        'message',
        { xmlns: NS.CLIENT, from: carol.jid, to: gina.jid, id: 'twice', type: 'chat' },
        xml('body', {}, 'once'),
      );
    await gateway.route(stanza(), 'retried-stream.1');
    await gateway.route(stanza(), 'retried-stream.1');
    await gina.next((s) => s.attrs.id === 'twice');
    await gina.next((s) => s.attrs.id === 'twice');
    const [first, second] = gina.stanzas
      .filter((s) => s.attrs.id === 'twice')
      .map((copy) => stanzaIdBy(copy, 'gina@localhost'));
    expect(first).toBeDefined();
    expect(second).toBe(first);
    expect((await query(carol, { fields: { with: 'gina@localhost' } })).ids).toHaveLength(1);
    // One entry per archive for the two routings: the key is (origin, owner).
    const stored = await cluster.store.run(MamArchive, 'find', (c) =>
      c.find({ _id: { $regex: /^retried-stream\.1>/ } }).toArray(),
    );
    expect(stored.map((entry) => entry.owner).sort()).toEqual(['carol@localhost', 'gina@localhost']);
    expect(stored.find((entry) => entry.owner === 'gina@localhost')?.id).toBe(first);
  });
});

describe('MAM (XEP-0313): queries', () => {
  let pam: TestClient;
  let quinn: TestClient;
  let ids: string[];
  const SENT = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7'];

  beforeAll(async () => {
    pam = await login('pam', 'pager', 1);
    quinn = await login('quinn', 'pager', 0);
    // Quinn's conversation with pam: 7 messages, each archived before the next is sent.
    ids = (await converse(quinn, pam, SENT)).map((m) => stanzaIdBy(m, 'pam@localhost') ?? '');
  });

  const withQuinn = { with: 'quinn@localhost' };
  const body = (n: string): string => `body of ${n}`;

  it('pages forward with max and after until complete', async () => {
    const first = await query(pam, { fields: withQuinn, max: 3 });
    expect(first.bodies).toEqual(['p1', 'p2', 'p3'].map(body));
    expect(first.ids).toEqual(ids.slice(0, 3));
    expect(finOf(first.iq)).toMatchObject({ complete: 'false', first: ids[0], last: ids[2] });
    const second = await query(pam, { fields: withQuinn, max: 3, after: ids[2] });
    expect(second.ids).toEqual(ids.slice(3, 6));
    const third = await query(pam, { fields: withQuinn, max: 3, after: ids[5] });
    expect(third.ids).toEqual(ids.slice(6));
    expect(finOf(third.iq)).toMatchObject({ complete: 'true', first: ids[6], last: ids[6] });
    const beyond = await query(pam, { fields: withQuinn, max: 3, after: ids[6] });
    expect(beyond.ids).toEqual([]);
    expect(finOf(beyond.iq)).toMatchObject({ complete: 'true', first: undefined, last: undefined });
  });

  it('pages backward from the last page (empty <before/>) with before until complete', async () => {
    const last = await query(pam, { fields: withQuinn, max: 3, before: '' });
    expect(last.ids).toEqual(ids.slice(4));
    expect(finOf(last.iq)).toMatchObject({ complete: 'false', first: ids[4], last: ids[6] });
    const earlier = await query(pam, { fields: withQuinn, max: 3, before: ids[4] });
    expect(earlier.ids).toEqual(ids.slice(1, 4));
    const earliest = await query(pam, { fields: withQuinn, max: 3, before: ids[1] });
    expect(earliest.ids).toEqual(ids.slice(0, 1));
    expect(finOf(earliest.iq).complete).toBe('true');
  });

  it('flips a page, bounds it by after-id and before-id, fetches ids, and counts with max 0', async () => {
    const flipped = await query(pam, { fields: withQuinn, max: 3, flip: true });
    expect(flipped.ids).toEqual(ids.slice(0, 3).reverse());
    const between = await query(pam, {
      fields: { ...withQuinn, 'after-id': ids[1] ?? '', 'before-id': ids[5] ?? '' },
    });
    expect(between.ids).toEqual(ids.slice(2, 5));
    const picked = await query(pam, { fields: { ids: [ids[6] ?? '', ids[0] ?? ''] } });
    expect(picked.ids).toEqual([ids[0], ids[6]]);
    const counted = await query(pam, { fields: withQuinn, max: 0 });
    expect(counted.ids).toEqual([]);
    expect(finOf(counted.iq)).toMatchObject({ count: '7', complete: 'false' });
  });

  it('filters by a bare JID (any resource), a full JID (only it), and time', async () => {
    expect((await query(pam, { fields: { with: quinn.jid } })).ids).toEqual(ids);
    expect((await query(pam, { fields: { with: 'quinn@localhost/elsewhere' } })).ids).toEqual([]);
    const [third] = (await query(pam, { fields: withQuinn, max: 1, after: ids[1] })).results;
    const stamp = Date.parse(third?.stamp ?? '');
    const later = await query(pam, { fields: { ...withQuinn, start: new Date(stamp).toISOString() } });
    expect(later.ids).toContain(ids[2]);
    expect(later.ids).toContain(ids[6]);
    expect(later.results.every((r) => Date.parse(r.stamp) >= stamp)).toBe(true);
    const earlier = await query(pam, { fields: { ...withQuinn, end: new Date(stamp).toISOString() } });
    expect(earlier.ids).toContain(ids[2]);
    expect(earlier.results.every((r) => Date.parse(r.stamp) <= stamp)).toBe(true);
    const none = await query(pam, { fields: { ...withQuinn, end: '2000-01-01T00:00:00Z' } });
    expect(none.ids).toEqual([]);
  });

  it('answers an unknown id with item-not-found', async () => {
    const unknown: MamQueryOptions[] = [
      { max: 3, after: 'nope' },
      { before: 'nope' },
      { fields: { 'after-id': 'nope' } },
      { fields: { ids: [ids[0] ?? '', 'nope'] } },
    ];
    for (const options of unknown) {
      const { iq, ids: got } = await query(pam, options);
      expect(iq.attrs.type).toBe('error');
      expect(conditionOf(iq), JSON.stringify(options)).toBe('item-not-found');
      expect(got).toEqual([]);
    }
  });

  it('answers garbage with bad-request, an unknown field with feature-not-implemented', async () => {
    const garbage: MamQueryOptions[] = [
      { max: 'lots' },
      { fields: { start: 'last tuesday' } },
      { fields: { with: '@' } },
    ];
    for (const options of garbage) {
      const { iq } = await query(pam, options);
      expect(iq.getChild('error')?.attrs.type).toBe('modify');
      expect(conditionOf(iq), JSON.stringify(options)).toBe('bad-request');
    }
    expect(conditionOf((await query(pam, { fields: { 'full-text-search': 'x' } })).iq)).toBe(
      'feature-not-implemented',
    );
  });

  it("refuses another user's archive with forbidden, and leaks nothing of it", async () => {
    const { iq, results } = await query(quinn, { to: 'pam@localhost' });
    expect(iq.attrs.type).toBe('error');
    expect(conditionOf(iq)).toBe('forbidden');
    expect(results).toEqual([]);
    // A query addressed to one's own bare JID is the same as one without `to`.
    expect(
      (await query(quinn, { to: 'quinn@localhost', fields: { with: 'pam@localhost' } })).ids,
    ).toHaveLength(7);
  });

  it('answers the form (iq get), the archive metadata, and advertises MAM on the bare JID', async () => {
    await pam.send(xml('iq', { type: 'get', id: 'form' }, xml('query', { xmlns: NS.MAM })));
    const form = await pam.waitFor((s) => s.attrs.id === 'form');
    const vars = form.getChild('query', NS.MAM)?.getChild('x', NS.DATA_FORMS)?.getChildren('field');
    expect(vars?.map((f) => f.attrs.var)).toEqual([
      'FORM_TYPE',
      'with',
      'start',
      'end',
      'after-id',
      'before-id',
      'ids',
    ]);

    await pam.send(xml('iq', { type: 'get', id: 'meta' }, xml('metadata', { xmlns: NS.MAM })));
    const metadata = (await pam.waitFor((s) => s.attrs.id === 'meta')).getChild('metadata', NS.MAM);
    const all = await query(pam, {});
    expect(metadata?.getChild('start')?.attrs.id).toBe(all.ids[0]);
    expect(metadata?.getChild('end')?.attrs.id).toBe(all.ids.at(-1));

    await pam.send(
      xml('iq', { type: 'get', id: 'disco', to: 'pam@localhost' }, xml('query', { xmlns: NS.DISCO_INFO })),
    );
    const disco = await pam.waitFor((s) => s.attrs.id === 'disco');
    const features = disco
      .getChild('query', NS.DISCO_INFO)
      ?.getChildren('feature')
      .map((f) => f.attrs.var);
    expect(features).toEqual(expect.arrayContaining([NS.MAM, `${NS.MAM}#extended`, NS.SID]));
  });
});

describe('MAM off (MAM_ENABLED=false)', () => {
  it('archives nothing and adds no stanza-id, still strips forged ones, and answers queries service-unavailable', async () => {
    // Scripted clients, on plaintext streams (PLAIN).
    const port = off.gateways[0]?.listening.c2sPort ?? 0;
    const [alice, bob] = await Promise.all([
      SmClient.bound(port, 'alice', 'alice-pw', 'off'),
      SmClient.bound(port, 'bob', 'bob-pw', 'off'),
    ]);
    raw.push(alice, bob);
    bob.send(chat(alice.jid, 'o1', xml('stanza-id', { xmlns: NS.SID, by: 'alice@localhost', id: 'forged' })));
    const delivered = await alice.next((s) => s.attrs.id === 'o1');
    expect(delivered.getChildren('stanza-id', NS.SID)).toEqual([]);
    alice.send(mamQuery('off-query'));
    expect(conditionOf(await alice.next((s) => s.attrs.id === 'off-query'))).toBe('service-unavailable');
    expect(await off.store.run(MamArchive, 'count', (c) => c.countDocuments({}))).toBe(0);
    alice.send(xml('iq', { type: 'get', id: 'disco-off' }, xml('query', { xmlns: NS.DISCO_INFO })));
    const disco = await alice.next((s) => s.attrs.id === 'disco-off');
    const features = disco
      .getChild('query', NS.DISCO_INFO)
      ?.getChildren('feature')
      .map((f) => f.attrs.var);
    expect(features).toEqual([NS.DISCO_INFO]);
  });
});
