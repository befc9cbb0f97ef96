import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import {
  freePort,
  startFerretDb,
  startNatsServer,
  type RunningFerretDb,
  type RunningNatsServer,
} from '@holdfast/localinfra';
import { SmSessions, Store, type SmSessionDocument } from '@holdfast/store';
import { uniqueId } from '@holdfast/testing';
import { xml, type Element } from '@holdfast/xmpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Test support of the gateway package (not part of its build): the scripted SM client; and its account
// store, to create the test accounts.
import { SmClient } from '../services/gateway/src/testing/sm-client.js';
import { Accounts } from '../services/gateway/src/auth/accounts.js';
import { startGateway, startService, type ServiceProcess } from './support/processes.js';

/**
 * The infrastructure requirement: a restart of NATS (file store) or of the MongoDB-wire server
 * loses nothing, and the services reconnect on their own. This file runs its own nats-server and
 * FerretDB (the shared ones serve other test files in parallel) and restarts them on the same port and
 * data directory while SM clients exchange messages through two gateway processes and session-state.
 * Every message a sender's `h` counted is delivered to its receiver (after a resume if its connection
 * dropped); what the server never counted the client re-sends, as XEP-0198 §5 has it.
 */
const SM = 'urn:xmpp:sm:3';
const PASSWORD = 'pw';
/**
 * Longer than the default GATEWAY_DEAD_AFTER_MS (2 s). What the services publish into the outage nats.js
 * drops (it does not buffer across a reconnect): those requests time out (5 s) after the server is back.
 */
const NATS_DOWN_MS = 3000;
const FERRETDB_DOWN_MS = 1500;
const quiet = { warn: () => undefined };

const dir = mkdtempSync(path.join(tmpdir(), 'holdfast-restart-'));
const natsDir = path.join(dir, 'nats');
const ferretDir = path.join(dir, 'ferretdb');
let nats: RunningNatsServer | undefined;
let ferret: RunningFerretDb | undefined;
let natsPort = 0;
let ferretPort = 0;
const env: Record<string, string> = {
  MONGO_DB: uniqueId('restart'),
  XMPP_DOMAIN: 'localhost',
  C2S_PORT: '0',
  XMPP_WEBSOCKET_PORT: '0',
  C2S_REQUIRE_ENCRYPTION: 'false',
  SASL_ALLOW_PLAIN_WITHOUT_TLS: 'true',
  SM_MAX_QUEUE_SIZE: '1000',
  SM_HIBERNATION_TIME_S: '60',
};

/** The same port and data directory every time: a restart, not a new server. */
const startNats = (): Promise<RunningNatsServer> => startNatsServer({ storeDir: natsDir, port: natsPort });
const startFerret = (): Promise<RunningFerretDb> => startFerretDb({ dataDir: ferretDir, port: ferretPort });

type Gateway = ServiceProcess & { port: number };

/** session-state and two gateway processes, started as an operator runs them. */
interface Cluster {
  readonly sessionState: ServiceProcess;
  readonly gateways: readonly [Gateway, Gateway];
  readonly nodes: readonly string[];
}

let cluster: Cluster | undefined;
const peers: Peer[] = [];

async function startCluster(extra: Record<string, string>): Promise<Cluster> {
  const clusterEnv = { ...env, ...extra };
  const sessionState = await startService('session-state', clusterEnv, 'session-state ready');
  const nodes = [uniqueId('gw-a-'), uniqueId('gw-b-')] as const;
  const gateways: [Gateway, Gateway] = [
    await startGateway(clusterEnv, nodes[0]),
    await startGateway(clusterEnv, nodes[1]),
  ];
  return { sessionState, gateways, nodes };
}

function stopCluster(): void {
  for (const peer of peers.splice(0)) peer.stop();
  for (const service of [cluster?.sessionState, ...(cluster?.gateways ?? [])]) service?.child.kill('SIGKILL');
  cluster = undefined;
}

function running(): Cluster {
  if (cluster === undefined) throw new Error('no cluster running');
  return cluster;
}

beforeAll(async () => {
  [natsPort, ferretPort] = [await freePort(), await freePort()];
  [nats, ferret] = await Promise.all([startNats(), startFerret()]);
  env.NATS_URL = nats.url;
  env.MONGO_URL = ferret.url;
  // Accounts as the users CLI stores them, added in this process: a CLI process per account takes
  // seconds on a small machine.
  const store = await Store.open({ url: ferret.url, dbName: env.MONGO_DB ?? '', logger: quiet });
  try {
    const accounts = new Accounts(store, 'localhost');
    for (const flow of ['t', 'k', 'f', 'd']) {
      for (const name of ['snd', 'rcv0', 'rcv1', 'late0', 'late1', 'idle']) {
        await accounts.add(`${flow}${name}`, PASSWORD, new Date());
      }
    }
  } finally {
    await store.close();
  }
}, 60_000);

afterAll(async () => {
  stopCluster();
  await Promise.all([nats?.process.kill(), ferret?.process.kill()]);
  rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function isStanza(element: Element): boolean {
  return element.name === 'message' || element.name === 'presence' || element.name === 'iq';
}

/**
 * A client the way a real XEP-0198 one behaves: answers `<r/>` with what it handled, resumes (through
 * either gateway) when its connection drops, and re-sends what no `h` of the server covered yet. It
 * keeps the ids of the messages the server counted, so the test can tell counted from merely sent.
 */
class Peer {
  client: SmClient | undefined;
  private previd = '';
  /** Stanzas handled from the server in the current SM session: the client's `h`. */
  private inboundH = 0;
  /** The server's `h` for this client's stanzas in the current SM session. */
  private outboundH = 0;
  /** Sent in the current session and not covered by the server's `h` yet, in order. */
  private unconfirmed: { readonly id: string; readonly stanza: Element }[] = [];
  /** Ids of sent messages the server counted, in order, over all sessions. */
  readonly counted: string[] = [];
  /** Ids of the messages received, in order, over all connections (errors apart). */
  readonly receivedIds: string[] = [];
  /** Error stanzas received (bounces). */
  readonly errors: Element[] = [];
  /** What a correct server never does. */
  readonly anomalies: string[] = [];
  resumes = 0;
  sessions = 0;
  private seen = 0;
  private timer: NodeJS.Timeout | undefined;
  private reconnecting = false;
  private stopped = false;

  constructor(
    readonly user: string,
    readonly resource: string,
  ) {
    peers.push(this);
  }

  get jid(): string {
    return `${this.user}@localhost/${this.resource}`;
  }

  get session(): string {
    return this.previd.split('.')[0] ?? '';
  }

  /** Logs in through `port`, retrying for up to `withinMs` (the infrastructure may be restarting). */
  async start(port: number, withinMs = 10_000): Promise<void> {
    const deadline = Date.now() + withinMs;
    for (let attempt = 1; ; attempt++) {
      let client: SmClient | undefined;
      try {
        client = await SmClient.authenticated(port, this.user, PASSWORD);
        await this.newSession(client);
        break;
      } catch (error) {
        client?.kill();
        if (Date.now() > deadline) {
          throw new Error(`${this.user}: no login within ${withinMs} ms (${attempt} attempts)`, {
            cause: error,
          });
        }
        await sleep(250);
      }
    }
    this.timer = setInterval(() => {
      this.poll();
    }, 5);
  }

  /** Binds, enables resumable SM, and re-sends what the previous session did not count. */
  private async newSession(client: SmClient): Promise<void> {
    const bound = await client.bind(this.resource);
    if (bound.attrs.type !== 'result') throw new Error(`bind failed: ${bound.toString()}`);
    const enabled = await client.enable();
    if (enabled.name !== 'enabled') throw new Error(`enable failed: ${enabled.toString()}`);
    this.previd = enabled.attrs.id ?? '';
    this.inboundH = 0;
    this.outboundH = 0;
    this.client = client;
    // Counting starts after <enabled/>: the bind result before it is not part of the session's count.
    this.seen = client.received.indexOf(enabled) + 1;
    this.sessions += 1;
    this.resend();
  }

  private resend(): void {
    if (this.unconfirmed.length === 0) return;
    for (const { stanza } of this.unconfirmed) this.client?.send(stanza);
    this.client?.send(xml('r', { xmlns: SM }));
  }

  /** Sends a stanza and asks for an ack; it is kept until an `h` covers it, and re-sent after a resume. */
  send(stanza: Element): void {
    this.unconfirmed.push({ id: stanza.attrs.id ?? '', stanza });
    if (this.reconnecting) return;
    this.client?.send(stanza);
    this.client?.send(xml('r', { xmlns: SM }));
  }

  requestAck(): void {
    if (!this.reconnecting) this.client?.send(xml('r', { xmlns: SM }));
  }

  get pending(): number {
    return this.unconfirmed.length;
  }

  private confirm(h: number): void {
    const newly = h - this.outboundH;
    if (newly < 0) {
      // XEP-0198 §4: h never goes down. The stanzas it had acknowledged are not held any more (nothing
      // to re-send); the count goes on from the server's h so that later acks still line up.
      this.anomalies.push(`${this.user}: the server's h went back from ${this.outboundH} to ${h}`);
      this.outboundH = h;
      return;
    }
    if (newly > this.unconfirmed.length) {
      this.anomalies.push(`${this.user}: h=${h} covers ${newly} stanzas, ${this.unconfirmed.length} sent`);
    }
    for (const { id } of this.unconfirmed.splice(0, newly)) this.counted.push(id);
    this.outboundH = h;
  }

  private poll(): void {
    const client = this.client;
    if (client === undefined) return;
    const received = client.received;
    for (; this.seen < received.length; this.seen++) {
      const element = received[this.seen];
      if (element === undefined) continue;
      if (isStanza(element)) {
        this.inboundH += 1;
        if (element.name !== 'message') continue;
        if (element.attrs.type === 'error') this.errors.push(element);
        else this.receivedIds.push(element.attrs.id ?? '');
      } else if (element.attrs.xmlns === SM && element.name === 'r') {
        client.ack(this.inboundH);
      } else if (element.attrs.xmlns === SM && element.name === 'a') {
        this.confirm(Number(element.attrs.h));
      }
    }
    if (client.closed && !this.reconnecting && !this.stopped) {
      this.reconnecting = true;
      void this.reconnect().finally(() => {
        this.reconnecting = false;
      });
    }
  }

  /**
   * The connection dropped: resume through the gateways in turn (for up to 20 s). A `<failed/>` other
   * than item-not-found (the claim cannot be committed right now) is retried; item-not-found means the
   * session is gone, and the client starts a new one and re-sends what was not counted.
   */
  private async reconnect(): Promise<void> {
    const deadline = Date.now() + 20_000;
    for (let attempt = 0; !this.stopped; attempt++) {
      const port = running().gateways[attempt % 2]?.port ?? 0;
      let again: SmClient | undefined;
      try {
        again = await SmClient.authenticated(port, this.user, PASSWORD);
        again.send(xml('resume', { xmlns: SM, previd: this.previd, h: String(this.inboundH) }));
        const answer = await again.next(
          (e) => e.attrs.xmlns === SM && (e.name === 'resumed' || e.name === 'failed'),
          10_000,
        );
        if (answer.attrs.h !== undefined) this.confirm(Number(answer.attrs.h));
        if (answer.name === 'resumed') {
          this.client = again;
          this.seen = again.received.indexOf(answer) + 1;
          this.resumes += 1;
          this.resend();
          return;
        }
        if (answer.getChild('item-not-found') === undefined) throw new Error(answer.toString());
        await this.newSession(again);
        return;
      } catch (error) {
        again?.kill();
        if (Date.now() > deadline) {
          this.anomalies.push(`${this.user}: no resume within 20 s: ${String(error)}`);
          return;
        }
        await sleep(200);
      }
    }
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.client?.kill();
  }
}

/** Polls `done` every 50 ms for at most `ms`; true when it held. */
async function waitFor(done: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

/** The services' warnings and errors, for failure messages. */
function serviceTrouble(): string {
  const { sessionState, gateways } = running();
  return [sessionState, ...gateways]
    .flatMap((service) => service.lines.filter((line) => /"level":"(warn|error)"/.test(line)))
    .map((line) => line.slice(0, 400))
    .slice(-40)
    .join('\n');
}

interface FlowReport {
  readonly counted: number;
  readonly bounced: number;
  readonly duplicates: number;
  readonly resumes: number;
  readonly newSessions: number;
}

/**
 * Receivers on both gateways and a sender on the second one, sending `messages` round-robin (asking for
 * an ack after each, as a cautious client does) while `outage` runs, started after `outageAfter` of
 * them. Then: the sender's `h` covers every message (it re-sends what was not counted), and every
 * counted message that was not bounced back to the sender reached its receiver.
 */
async function flow(
  prefix: string,
  messages: number,
  outageAfter: number,
  outage: () => Promise<void>,
): Promise<FlowReport> {
  const [a, b] = running().gateways;
  const receivers = [new Peer(`${prefix}rcv0`, 'phone'), new Peer(`${prefix}rcv1`, 'phone')] as const;
  const sender = new Peer(`${prefix}snd`, 'desk');
  await Promise.all([receivers[0].start(a.port), receivers[1].start(b.port), sender.start(b.port)]);

  const recipientOf = new Map<string, number>();
  let disruption: Promise<void> = Promise.resolve();
  for (let n = 1; n <= messages; n++) {
    const to = (n - 1) % receivers.length;
    const id = `${prefix}m${n}`;
    recipientOf.set(id, to);
    sender.send(
      xml(
        'message',
        { to: `${prefix}rcv${to}@localhost/phone`, id, type: 'chat' },
        xml('body', {}, `n=${n}`),
      ),
    );
    if (n === outageAfter) disruption = outage();
    await sleep(20);
  }
  await disruption;

  const allCounted = await waitFor(() => {
    sender.requestAck();
    return sender.pending === 0;
  }, 20_000);
  for (const peer of [sender, ...receivers]) {
    expect(peer.anomalies, `${peer.user}: protocol anomalies\n${serviceTrouble()}`).toEqual([]);
  }
  expect(allCounted, `${sender.pending} stanzas never counted:\n${serviceTrouble()}`).toBe(true);

  // A bounce (an error the sender got back, e.g. `wait` while NATS was down) is not a loss.
  const bounced = new Set(sender.errors.map((error) => error.attrs.id ?? ''));
  const owed = (index: number): string[] =>
    sender.counted.filter((id) => recipientOf.get(id) === index && !bounced.has(id));
  await waitFor(
    () => receivers.every((receiver, index) => owed(index).every((id) => receiver.receivedIds.includes(id))),
    15_000,
  );
  for (const [index, receiver] of receivers.entries()) {
    const missing = owed(index).filter((id) => !receiver.receivedIds.includes(id));
    expect(missing, `${receiver.user}: counted and never delivered\n${serviceTrouble()}`).toEqual([]);
  }
  const received = receivers.flatMap((receiver) => receiver.receivedIds);
  const everyone = [sender, ...receivers];
  for (const peer of everyone) peer.stop();
  return {
    counted: new Set(sender.counted).size,
    bounced: bounced.size,
    duplicates: received.length - new Set(received).size,
    resumes: everyone.reduce((sum, peer) => sum + peer.resumes, 0),
    newSessions: everyone.reduce((sum, peer) => sum + peer.sessions - 1, 0),
  };
}

/** New logins on both gateways and a message each way: the services are usable again. */
async function freshExchange(prefix: string): Promise<Peer[]> {
  const [a, b] = running().gateways;
  const late = [new Peer(`${prefix}late0`, 'web'), new Peer(`${prefix}late1`, 'web')] as const;
  await Promise.all([late[0].start(a.port, 20_000), late[1].start(b.port, 20_000)]);
  late[0].send(xml('message', { to: late[1].jid, id: `${prefix}hello0`, type: 'chat' }));
  late[1].send(xml('message', { to: late[0].jid, id: `${prefix}hello1`, type: 'chat' }));
  const exchanged = await waitFor(
    () => late[1].receivedIds.includes(`${prefix}hello0`) && late[0].receivedIds.includes(`${prefix}hello1`),
    10_000,
  );
  expect(exchanged, `no message each way between fresh logins:\n${serviceTrouble()}`).toBe(true);
  return [...late];
}

/** Waits (up to 15 s) until session-state's projection (`sm_sessions`) shows `expected`. */
async function expectProjected(expected: ReadonlyMap<string, SmSessionDocument['status']>): Promise<void> {
  const store = await Store.open({
    url: ferret?.url ?? '',
    dbName: env.MONGO_DB ?? '',
    logger: quiet,
    retry: { budgetMs: 10_000 },
  });
  try {
    const ids = [...expected.keys()];
    let found = new Map<string, string>();
    const matches = (): boolean => ids.every((id) => found.get(id) === expected.get(id));
    const deadline = Date.now() + 15_000;
    for (;;) {
      const documents = await store.run(SmSessions, 'find', (collection) =>
        collection.find({ _id: { $in: ids } }, { projection: { status: 1 } }).toArray(),
      );
      found = new Map(documents.map((document) => [document._id, document.status]));
      if (matches() || Date.now() > deadline) break;
      await sleep(100);
    }
    expect(Object.fromEntries(found), serviceTrouble()).toEqual(Object.fromEntries(expected));
  } finally {
    await store.close();
  }
}

/** No service process exited: they reconnected on their own. */
function expectServicesRunning(): void {
  const { sessionState, gateways } = running();
  for (const service of [sessionState, ...gateways]) {
    expect(service.child.exitCode, service.lines.slice(-20).join('\n')).toBeNull();
  }
}

/** The NATS scenario: an outage of `NATS_DOWN_MS` (the process stopped by `signal`) under traffic. */
async function natsRestart(prefix: string, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
  let downMs = 0;
  const report = await flow(prefix, 100, 30, async () => {
    const server = nats;
    if (server === undefined) throw new Error('NATS not running');
    const stoppedAt = Date.now();
    await (signal === 'SIGTERM' ? server.process.stop() : server.process.kill());
    await sleep(NATS_DOWN_MS);
    nats = await startNats();
    downMs = Date.now() - stoppedAt;
  });
  console.info(`NATS ${signal}, down ${downMs} ms: ${JSON.stringify(report)}`);
  expectServicesRunning();
  // New logins and messages work, and session-state's consumers (the projection) are back too.
  const late = await freshExchange(prefix);
  await expectProjected(new Map(late.map((peer) => [peer.session, 'ACTIVE'])));
  for (const peer of late) peer.stop();
}

describe('restart of the infrastructure under traffic', () => {
  // Nothing here is about a dead gateway: a NATS outage must not look like one (see the skipped
  // scenario below for what the default does).
  beforeAll(async () => {
    cluster = await startCluster({ GATEWAY_DEAD_AFTER_MS: '15000' });
  }, 60_000);
  afterAll(stopCluster);

  for (const [prefix, signal] of [
    ['t', 'SIGTERM'],
    ['k', 'SIGKILL'],
  ] as const) {
    it(`NATS (${signal}, file store): every counted message is delivered; services reconnect on their own`, async () => {
      await natsRestart(prefix, signal);
    }, 60_000);
  }

  it('FerretDB: logins and message flow work again, the projection catches up, nothing counted is lost', async () => {
    const [a] = running().gateways;
    // A session whose connection drops while the database is down: its hibernation reaches the
    // projection once the database is back.
    const idle = new Peer('fidle', 'phone');
    await idle.start(a.port);
    let late: Promise<Peer[]> = Promise.resolve([]);
    let downMs = 0;
    const report = await flow('f', 60, 20, async () => {
      const server = ferret;
      if (server === undefined) throw new Error('FerretDB not running');
      const stoppedAt = Date.now();
      await server.process.stop();
      idle.stop();
      // Logins while the database is down: they succeed once it is back (the client retries).
      late = freshExchange('f');
      late.catch(() => undefined); // Awaited below; an early failure is not an unhandled rejection.
      await sleep(FERRETDB_DOWN_MS);
      ferret = await startFerret();
      downMs = Date.now() - stoppedAt;
    });
    console.info(`FerretDB SIGTERM, down ${downMs} ms: ${JSON.stringify(report)}`);
    const fresh = await late;
    expectServicesRunning();
    await expectProjected(
      new Map([[idle.session, 'HIBERNATING'], ...fresh.map((peer) => [peer.session, 'ACTIVE'] as const)]),
    );
    for (const peer of fresh) peer.stop();
  }, 60_000);
});

/**
 * The same NATS outage with the default GATEWAY_DEAD_AFTER_MS (2 s): a watcher that could not read the
 * heartbeats does not count the outage as their staleness, so no live gateway is taken for dead.
 */
describe('a NATS outage longer than the default GATEWAY_DEAD_AFTER_MS', () => {
  beforeAll(async () => {
    cluster = await startCluster({});
  }, 60_000);
  afterAll(stopCluster);

  it('is not a gateway death: nothing counted is lost, no session moves', async () => {
    await natsRestart('d', 'SIGTERM');
    const { sessionState, nodes } = running();
    const takeovers = sessionState.lines.filter(
      (line) => line.includes('took over') && nodes.some((node) => line.includes(node)),
    );
    expect(takeovers).toEqual([]);
  }, 60_000);
});
