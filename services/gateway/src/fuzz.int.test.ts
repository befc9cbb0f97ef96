import { setImmediate as nextTurn } from 'node:timers/promises';

import type { LogRecord } from '@holdfast/testing';
import { NS, STREAM_CLOSE, xml } from '@holdfast/xmpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startCluster, type TestCluster } from './testing/cluster.js';
import { FuzzSocket, outcomeOf, prepare, read, type Reading } from './testing/fuzz-connection.js';
import {
  fuzzCase,
  pingRequest,
  type FuzzAccount,
  type FuzzCase,
  type Outcome,
} from './testing/fuzz-inputs.js';
import { TestClient } from './testing/xmpp-client.js';

/** Change it to explore; every failure message names it with the case index (see `fuzzCase`). */
const SEED = 0x5eed_f022;
const CASES = 2000;
/** Connections open at once. */
const CONCURRENCY = 50;
/** The control sessions are pinged after every batch of this many finished connections. */
const BATCH = 50;
const CONNECT_MS = 5000;
/** From connect to the stage the payload is fed at (header, SASL, restart, bind). */
const PREAMBLE_MS = 10_000;
const WRITE_MS = 10_000;
/** A connection the server leaves open is judged after this long without a byte from it. */
const SILENCE_MS = 1000;
const OBSERVE_MS = 5000;
/** A probe (ping, or our `</stream:stream>`) must be answered within this. */
const PROBE_MS = 2000;
/** After a stream error or its `</stream:stream>`, the server must close the connection within this. */
const CLOSE_BOUND_MS = 1000;
const PING_BOUND_MS = 2000;
/** No connection starts after this; the run fails if it is reached. */
const FUZZ_DEADLINE_MS = 60_000;

/** Log messages that mean the gateway failed internally on some input, rather than rejecting it. */
const INTERNAL_FAILURES = [
  'stanza handling failed',
  'cleanup after stream end failed',
  'authentication failed internally',
  'onData handler threw',
  'onClose handler threw',
  'onConnection threw',
];

const ACCOUNT: FuzzAccount = { domain: 'localhost', username: 'fuzz', password: 'fuzz-secret' };
const CONTROL: FuzzAccount = { domain: 'localhost', username: 'control', password: 'control-secret' };
/** The control session on the fuzzed gateway; some inputs send it (valid but awkward) messages. */
const BYSTANDER = 'control@localhost/control';

let lenient: TestCluster;
let strict: TestCluster;
const controls: TestClient[] = [];
const rawControls: FuzzSocket[] = [];
const unhandled: unknown[] = [];
/** In production nothing catches these: an unhandled rejection ends the gateway process (Node's default). */
const onUnhandled = (reason: unknown): void => {
  unhandled.push(
    reason instanceof Error ? (reason.stack ?? String(reason)).split('\n').slice(0, 6).join('\n') : reason,
  );
};

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  process.on('uncaughtException', onUnhandled);
  // Plaintext all the way, so every stage of the stream is reachable without TLS; generous limits so the
  // fuzz measures the gateway's input handling, not the per-address connection and failure throttles.
  const limits = { MAX_CONNECTIONS_PER_IP: '1000', AUTH_MAX_FAILURES: '1000000' };
  // In this order: startCluster makes Node trust the certificate of the first cluster only, and the
  // control session on the fuzzed gateway is a stock client that verifies it.
  lenient = await startCluster({
    gateways: 1,
    env: { ...limits, C2S_REQUIRE_ENCRYPTION: 'false', SASL_ALLOW_PLAIN_WITHOUT_TLS: 'true' },
  });
  strict = await startCluster({ gateways: 1, env: limits });
  const now = new Date();
  for (const cluster of [lenient, strict]) {
    await cluster.accounts.add(ACCOUNT.username, ACCOUNT.password, now);
    await cluster.accounts.add(CONTROL.username, CONTROL.password, now);
  }
});

afterAll(async () => {
  await Promise.all(controls.map((client) => client.stop()));
  for (const session of rawControls) session.destroy();
  await Promise.all([lenient.stop(), strict.stop()].map((stopping) => stopping.catch(() => undefined)));
  process.off('unhandledRejection', onUnhandled);
  process.off('uncaughtException', onUnhandled);
});

function c2sPort(cluster: TestCluster): number {
  const port = cluster.gateways[0]?.listening.c2sPort;
  if (port === undefined) throw new Error('no gateway');
  return port;
}

async function controlSession(cluster: TestCluster, resource: string): Promise<TestClient> {
  const client = await TestClient.connect({
    service: cluster.service(0),
    domain: cluster.domain,
    username: CONTROL.username,
    password: CONTROL.password,
    resource,
  });
  controls.push(client);
  return client;
}

/** Milliseconds an XEP-0199 ping to the server takes; throws if it is not answered with a result. */
async function ping(client: TestClient): Promise<number> {
  const started = performance.now();
  const reply = await client.xmpp.iqCaller.request(
    xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: NS.PING })),
    PING_BOUND_MS,
  );
  if (reply.attrs.type !== 'result') throw new Error(`ping answered with ${reply.toString()}`);
  return performance.now() - started;
}

/** A session on the gateway that requires TLS, on a raw socket: STARTTLS, then PLAIN and bind. */
async function rawControlSession(cluster: TestCluster): Promise<FuzzSocket> {
  const plain = await FuzzSocket.open(c2sPort(cluster), CONNECT_MS);
  rawControls.push(plain);
  await prepare(plain, 'features', CONTROL, '', PREAMBLE_MS);
  await plain.write(`<starttls xmlns='${NS.TLS}'/>`, PROBE_MS);
  if (!(await plain.until(() => plain.indexOf('<proceed') !== -1, PROBE_MS))) {
    throw new Error(`no <proceed/>: ${plain.textFrom(0)}`);
  }
  const secure = await FuzzSocket.startTls(plain, PREAMBLE_MS);
  rawControls.push(secure);
  await prepare(secure, 'bound', CONTROL, '', PREAMBLE_MS);
  return secure;
}

let rawPings = 0;

/** `ping` on a raw session. */
async function rawPing(session: FuzzSocket): Promise<number> {
  rawPings += 1;
  const id = `control-${rawPings}`;
  const started = performance.now();
  const from = session.length;
  await session.write(pingRequest(id), PING_BOUND_MS);
  const reply = new RegExp(`<iq [^>]*id="${id}"[^>]*>`);
  await session.until(() => reply.test(session.textFrom(from)) || session.closed, PING_BOUND_MS);
  const found = reply.exec(session.textFrom(from))?.[0];
  if (found?.includes('type="result"') !== true) {
    throw new Error(`ping not answered with a result within ${PING_BOUND_MS} ms: ${session.textFrom(from)}`);
  }
  return performance.now() - started;
}

interface Result {
  readonly fuzzCase: FuzzCase;
  readonly outcome: Outcome | 'preamble-failed';
  readonly reading: Reading | undefined;
  readonly problems: readonly string[];
  readonly ms: number;
  readonly output: string;
}

function label(fuzzCase: FuzzCase): string {
  return `seed 0x${SEED.toString(16)} case ${fuzzCase.index} (${fuzzCase.stage}, ${fuzzCase.kind})`;
}

/** One connection: preamble to the case's stage, the payload in its chunks, observation, probe, judgement. */
async function runCase(fuzzCase: FuzzCase, port: number): Promise<Result> {
  const started = performance.now();
  const problems: string[] = [];
  const problem = (text: string): void => {
    problems.push(text);
  };
  let socket: FuzzSocket;
  try {
    socket = await FuzzSocket.open(port, CONNECT_MS);
  } catch (error) {
    problem(`connect: ${String(error)}`);
    return { fuzzCase, outcome: 'preamble-failed', reading: undefined, problems, ms: 0, output: '' };
  }
  try {
    try {
      const stage = fuzzCase.stage === 'tls-required' ? 'features' : fuzzCase.stage;
      await prepare(socket, stage, ACCOUNT, `n${fuzzCase.index}`, PREAMBLE_MS);
    } catch (error) {
      problem(
        `a correct client could not reach the stage: ${error instanceof Error ? error.message : String(error)}`,
      );
      return {
        fuzzCase,
        outcome: 'preamble-failed',
        reading: undefined,
        problems,
        ms: performance.now() - started,
        output: socket.textFrom(0),
      };
    }

    const writeDeadline = performance.now() + WRITE_MS;
    for (const [i, chunk] of fuzzCase.chunks.entries()) {
      const written = await socket.write(chunk, Math.max(0, writeDeadline - performance.now()));
      if (!written) {
        if (!socket.closed)
          problem(`the gateway stopped reading: write ${i} not drained within ${WRITE_MS} ms`);
        break;
      }
      // Let the gateway read between writes now and then, so that chunk boundaries reach its parser.
      if (i % 4 === 3) await nextTurn();
    }

    const probeId = `probe-${fuzzCase.index}`;
    if (fuzzCase.complete && fuzzCase.stage === 'bound') {
      // Stanzas are handled in order (RFC 6120 §10.1): when the ping is answered, the payload has been.
      await socket.write(pingRequest(probeId), PROBE_MS);
      await socket.until(() => socket.indexOf(`id="${probeId}"`) !== -1 || socket.closed, PROBE_MS);
    } else {
      await socket.quiet(SILENCE_MS, OBSERVE_MS);
    }
    if (socket.streamErrorAt !== undefined || socket.streamCloseAt !== undefined) {
      await socket.until(() => socket.closed, CLOSE_BOUND_MS);
    }
    const observed = socket.bytes();
    const outcome = outcomeOf(read(observed), socket.closed);

    if (outcome === 'open') {
      // Still open: it must still be alive. A complete payload leaves the stream between elements, so
      // `</stream:stream>` must close it cleanly; otherwise it may land inside an element, and any
      // reaction is fine as long as it keeps the protocol.
      await socket.write(STREAM_CLOSE, PROBE_MS);
      if (fuzzCase.complete) {
        const closed = await socket.until(() => socket.closed, PROBE_MS);
        if (!closed || socket.indexOf(STREAM_CLOSE, observed.length) === -1) {
          problem(
            'a stream left between elements did not answer </stream:stream> with </stream:stream> and a close',
          );
        }
      } else {
        await socket.quiet(200, PROBE_MS);
        if (socket.streamErrorAt !== undefined || socket.streamCloseAt !== undefined) {
          await socket.until(() => socket.closed, CLOSE_BOUND_MS);
        }
      }
    }

    const reading = read(socket.bytes());
    problems.push(...reading.problems);
    judge(fuzzCase, outcome, reading, socket, probeId, problem);
    return {
      fuzzCase,
      outcome,
      reading,
      problems,
      ms: performance.now() - started,
      output: socket.textFrom(0),
    };
  } finally {
    socket.destroy();
  }
}

function judge(
  fuzzCase: FuzzCase,
  outcome: Outcome,
  reading: Reading,
  socket: FuzzSocket,
  probeId: string,
  problem: (text: string) => void,
): void {
  const { streamErrorAt, streamCloseAt, closedAt } = socket;
  if (streamErrorAt !== undefined && (closedAt === undefined || closedAt - streamErrorAt > CLOSE_BOUND_MS)) {
    problem(`no close within ${CLOSE_BOUND_MS} ms of the stream error`);
  }
  if (streamCloseAt !== undefined && (closedAt === undefined || closedAt - streamCloseAt > CLOSE_BOUND_MS)) {
    problem(`no close within ${CLOSE_BOUND_MS} ms of </stream:stream>`);
  }
  if (closedAt !== undefined && !reading.proceed && !reading.streamClosed) {
    problem('the server closed the connection without </stream:stream>');
  }
  if (reading.streamErrors.includes('internal-server-error')) problem('stream error internal-server-error');
  if (reading.stanzaErrors.some((error) => error.condition === 'internal-server-error')) {
    problem('stanza error internal-server-error');
  }
  if (fuzzCase.expect !== undefined && !fuzzCase.expect.includes(outcome)) {
    problem(`outcome ${outcome}, expected ${fuzzCase.expect.join(' or ')}`);
  }
  if (outcome !== 'open') return;
  const { stanzaError, replies } = fuzzCase;
  if (stanzaError !== undefined && !reading.stanzaErrors.some((error) => error.condition === stanzaError)) {
    problem(
      `expected a ${stanzaError} stanza error; got ${reading.stanzaErrors.map((e) => e.condition).join(', ') || 'none'}`,
    );
  }
  if (fuzzCase.saslFailure === true && reading.saslFailures.length === 0)
    problem('expected a SASL <failure/>');
  if (replies !== undefined) {
    const wanted = new Set(replies);
    const got = reading.iqReplies.flatMap((reply) =>
      reply.id !== undefined && wanted.has(reply.id) ? [reply.id] : [],
    );
    if (got.join(' ') !== replies.join(' ')) {
      problem(
        `iq requests ${replies.join(' ')} answered as ${got.join(' ') || 'nothing'} (each once, in order)`,
      );
    }
  }
  if (fuzzCase.complete && fuzzCase.stage === 'bound') {
    if (!reading.iqReplies.some((reply) => reply.id === probeId && reply.type === 'result')) {
      problem(`no result for the ping sent after the payload within ${PROBE_MS} ms`);
    }
  }
}

function excerpt(text: string, max: number): string {
  return JSON.stringify(text.length <= max ? text : `${text.slice(0, max / 2)} … ${text.slice(-max / 2)}`);
}

function describeFailure(result: Result): string {
  const { fuzzCase } = result;
  return [
    `${label(fuzzCase)}: ${result.problems.join('; ')}`,
    `  outcome ${result.outcome} after ${Math.round(result.ms)} ms`,
    `  payload (${fuzzCase.payload.length} bytes in ${fuzzCase.chunks.length} writes): ${excerpt(fuzzCase.payload.toString('utf8'), 300)}`,
    `  server sent: ${excerpt(result.output, 600)}`,
  ].join('\n');
}

function count<K>(keys: Iterable<K>): Map<K, number> {
  const counts = new Map<K, number>();
  for (const key of keys) counts.set(key, (counts.get(key) ?? 0) + 1);
  return counts;
}

function table(title: string, counts: Map<string, number>): string {
  const rows = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return [title, ...rows.map(([key, n]) => `  ${String(n).padStart(5)}  ${key}`)].join('\n');
}

function describeRecord(record: LogRecord): string {
  const fields = JSON.stringify(record.fields, (key, value: unknown) =>
    value instanceof Error ? `${value.name}: ${value.message}` : value,
  );
  return `${record.message} ${fields.length > 400 ? `${fields.slice(0, 400)}…` : fields}`;
}

describe('hostile input against a live gateway', () => {
  it(`survives ${CASES} malformed and hostile connections: right errors, clean closes, others unaffected`, async () => {
    const testStarted = performance.now();
    const control = await controlSession(lenient, 'control');
    expect(control.jid).toBe(BYSTANDER);
    const strictControl = await rawControlSession(strict);
    const pings: number[] = [await ping(control), await rawPing(strictControl)];
    const pingFailures: string[] = [];

    const results: Result[] = [];
    const fuzzStarted = performance.now();
    const deadline = fuzzStarted + FUZZ_DEADLINE_MS;
    let next = 0;
    let finished = 0;
    let workersLeft = CONCURRENCY;
    const worker = async (): Promise<void> => {
      while (next < CASES && performance.now() < deadline) {
        const input = fuzzCase(SEED, next, ACCOUNT, BYSTANDER);
        next += 1;
        const port = c2sPort(input.stage === 'tls-required' ? strict : lenient);
        results.push(await runCase(input, port));
        finished += 1;
      }
      workersLeft -= 1;
    };
    /** During the fuzz, the control session must keep answering: one ping per batch of finished connections. */
    const pinger = async (): Promise<void> => {
      for (let batch = 1; batch <= CASES / BATCH; batch += 1) {
        while (finished < batch * BATCH && workersLeft > 0)
          await new Promise((resolve) => setTimeout(resolve, 20));
        if (workersLeft === 0 && finished < batch * BATCH) return;
        try {
          pings.push(...(await Promise.all([ping(control), rawPing(strictControl)])));
        } catch (error) {
          pingFailures.push(`after ${finished} connections: ${String(error)}`);
        }
      }
    };
    await Promise.all([...Array.from({ length: CONCURRENCY }, worker), pinger()]);
    const fuzzMs = performance.now() - fuzzStarted;

    pings.push(await ping(control), await rawPing(strictControl));
    // The gateways still take new sessions.
    const fresh = await controlSession(lenient, 'after-fuzz');
    pings.push(await ping(fresh));
    await fresh.stop();

    results.sort((a, b) => a.fuzzCase.index - b.fuzzCase.index);
    // What the fuzz sent the control session arrived, and arrived intact.
    const forwarded = results.flatMap((result) =>
      result.fuzzCase.forwarded !== undefined && result.outcome === 'open' ? [result.fuzzCase.forwarded] : [],
    );
    const misdelivered: string[] = [];
    const deliveredBy = performance.now() + 5000;
    for (const { id, body } of forwarded) {
      const message = await control
        .waitFor(
          (stanza) => stanza.is('message') && stanza.attrs.id === id,
          Math.max(100, deliveredBy - performance.now()),
        )
        .catch(() => undefined);
      if (message === undefined) misdelivered.push(`${id}: not delivered`);
      else if (message.getChildText('body') !== body)
        misdelivered.push(
          `${id}: body ${JSON.stringify(message.getChildText('body'))}, sent ${JSON.stringify(body)}`,
        );
      else if (!String(message.attrs.from).startsWith(`${ACCOUNT.username}@${ACCOUNT.domain}/`))
        misdelivered.push(`${id}: from ${String(message.attrs.from)}`);
    }
    const outcomes = count(results.map((result) => result.outcome));
    const stanzaErrors = count(
      results.flatMap((result) => result.reading?.stanzaErrors.map((e) => e.condition) ?? []),
    );
    const saslFailures = count(results.flatMap((result) => result.reading?.saslFailures ?? []));
    const byStage = count(results.map((result) => `${result.fuzzCase.stage} → ${result.outcome}`));
    const errorRecords = [lenient, strict].flatMap(
      (cluster) => cluster.gateways[0]?.logs.records.filter((record) => record.level === 'error') ?? [],
    );
    const failures = results.filter((result) => result.problems.length > 0);
    const slowest = Math.max(...results.map((result) => result.ms));
    console.log(
      [
        `fuzz seed 0x${SEED.toString(16)}: ${results.length} connections in ${(fuzzMs / 1000).toFixed(1)} s ` +
          `(test ${((performance.now() - testStarted) / 1000).toFixed(1)} s), slowest connection ${Math.round(slowest)} ms`,
        `control pings: ${pings.length}, slowest ${Math.round(Math.max(...pings))} ms, failed ${pingFailures.length}`,
        table('outcomes:', outcomes),
        table('stanza errors:', stanzaErrors),
        table('SASL failures:', saslFailures),
        table('stage → outcome:', byStage),
        `error-level log records: ${errorRecords.length}`,
        ...errorRecords.slice(0, 20).map((record) => `  ${describeRecord(record)}`),
        `messages to the control session: ${forwarded.length} sent, ${misdelivered.length} lost or altered`,
        ...misdelivered.slice(0, 10).map((line) => `  ${line}`),
        `connections with problems: ${failures.length}`,
        ...failures.slice(0, 25).map(describeFailure),
      ].join('\n'),
    );

    const seed = `seed 0x${SEED.toString(16)}`;
    expect(
      unhandled,
      `${seed}: unhandled errors in the test process (each one would crash a gateway)`,
    ).toEqual([]);
    expect(results.length, `${seed}: connections finished before the deadline`).toBe(CASES);
    expect(failures.map(describeFailure), seed).toEqual([]);
    expect(pingFailures, `${seed}: control pings during the fuzz`).toEqual([]);
    expect(misdelivered, `${seed}: messages to the control session`).toEqual([]);
    expect(forwarded.length, `${seed}: messages to the control session`).toBeGreaterThanOrEqual(10);
    expect(pings.length).toBeGreaterThanOrEqual((2 * CASES) / BATCH);
    expect(Math.max(...pings), `${seed}: slowest control ping (ms)`).toBeLessThan(PING_BOUND_MS);
    const internal = errorRecords.filter((record) => INTERNAL_FAILURES.includes(record.message));
    expect(internal.map(describeRecord), `${seed}: internal failures logged by the gateways`).toEqual([]);

    // The corpus reaches every kind of reaction, not one of them over and over.
    for (const [outcome, n] of outcomes) expect(n / CASES, `${seed}: share of ${outcome}`).toBeLessThan(0.5);
    const conditions = [...outcomes.keys()].filter((outcome) => outcome.startsWith('stream-error:'));
    expect(conditions.length, `${seed}: distinct stream error conditions`).toBeGreaterThanOrEqual(10);
    for (const outcome of [
      'stream-error:not-well-formed',
      'stream-error:restricted-xml',
      'stream-error:policy-violation',
      'stream-error:not-authorized',
      'stream-error:unsupported-stanza-type',
      'stream-error:invalid-from',
      'stream-error:invalid-namespace',
      'stream-error:host-unknown',
      'stream-error:unsupported-version',
      'stream-error:bad-format',
      'clean-close',
      'tls',
    ]) {
      expect(outcomes.get(outcome as Outcome) ?? 0, `${seed}: ${outcome}`).toBeGreaterThanOrEqual(2);
    }
    expect(outcomes.get('open') ?? 0, `${seed}: connections left open`).toBeGreaterThanOrEqual(100);
    expect(stanzaErrors.get('jid-malformed') ?? 0, seed).toBeGreaterThanOrEqual(10);
    expect(stanzaErrors.get('bad-request') ?? 0, seed).toBeGreaterThanOrEqual(10);
    expect(saslFailures.size, `${seed}: distinct SASL failures`).toBeGreaterThanOrEqual(3);
  }, 120_000);
});
