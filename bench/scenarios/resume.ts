import { errorMessage, sleep, waitFor } from '../async-utils.js';
import type { BenchUser, Target } from '../servers/target.js';
import { summarize } from '../stats.js';
import { attribute } from '../xml-stream-splitter.js';
import { XmppClient } from '../xmpp-client.js';
import { roundSummary } from './throughput-merge.js';
import type { LatencySummary } from '../stats.js';

/**
 * Scenario 2: for each queue size K, `reps` times: a resumable session's TCP connection is killed (no
 * stream close); a sender sends K messages to its full JID and waits until the server acked them (then a
 * short settle); a new connection authenticates and sends `<resume/>`. Measured from writing `<resume/>`
 * to `<resumed/>`, and to the last of the K queued messages.
 */
export interface ResumeOptions {
  readonly sizes: readonly number[];
  readonly reps: number;
  /** Wall time per queue size: repetitions stop early once it is spent (after at least MIN_REPS). */
  readonly budgetPerSizeMs: number;
  readonly tag: string;
}

export interface ResumeSizeResult {
  readonly queued: number;
  /** Repetitions done (fewer than asked when the time budget ran out). */
  readonly reps: number;
  readonly resumedMs: LatencySummary | null;
  readonly lastQueuedMs: LatencySummary | null;
}

export type ResumeResult = Record<string, ResumeSizeResult | { readonly error: string }>;

const STEP_TIMEOUT_MS = 30_000;
/** Extra time allowed per queued stanza for the server to take them (some servers are slow here). */
const PER_STANZA_MS = 100;
const SETTLE_MS = 150;
const MIN_REPS = 3;

export async function runResume(
  target: Target,
  senderUser: BenchUser,
  receiverUser: BenchUser,
  options: ResumeOptions,
): Promise<ResumeResult> {
  const login = (user: BenchUser, resource: string | null): ReturnType<typeof XmppClient.login> =>
    XmppClient.login({
      host: target.host,
      port: target.port,
      domain: target.domain,
      user: user.name,
      password: user.password,
      resource,
    });
  const { client: sender } = await login(senderUser, `resume-tx-${options.tag}`);
  const result: ResumeResult = {};
  try {
    await sender.enableSm(false, STEP_TIMEOUT_MS);
    for (const size of options.sizes) {
      const resumed: number[] = [];
      const lastQueued: number[] = [];
      const started = performance.now();
      try {
        for (let rep = 0; rep < options.reps; rep += 1) {
          if (rep >= MIN_REPS && performance.now() - started > options.budgetPerSizeMs) break;
          const sample = await resumeOnce(sender, receiverUser, login, size, `${options.tag}-${size}-${rep}`);
          resumed.push(sample.resumedMs);
          lastQueued.push(sample.lastQueuedMs);
        }
      } catch (error) {
        result[String(size)] = { error: `repetition ${resumed.length + 1}: ${errorMessage(error)}` };
        if (sender.closedReason !== undefined) break;
        continue;
      }
      result[String(size)] = {
        queued: size,
        reps: resumed.length,
        resumedMs: roundSummary(summarize(resumed)),
        lastQueuedMs: roundSummary(summarize(lastQueued)),
      };
    }
  } finally {
    await sender.close(2000);
  }
  return result;
}

async function resumeOnce(
  sender: XmppClient,
  receiverUser: BenchUser,
  login: (user: BenchUser, resource: string | null) => ReturnType<typeof XmppClient.login>,
  size: number,
  tag: string,
): Promise<{ resumedMs: number; lastQueuedMs: number }> {
  const { client: first, jid } = await login(receiverUser, `resume-rx-${tag}`);
  let previd: string | undefined;
  try {
    const enabled = await first.enableSm(true, STEP_TIMEOUT_MS);
    if (!enabled.resume || enabled.id === undefined)
      throw new Error(`server did not grant resumption: id=${String(enabled.id)}`);
    previd = enabled.id;
  } finally {
    first.kill();
  }
  const h = first.inbound;
  await sleep(SETTLE_MS);

  const prefix = `q-${tag}-`;
  let chunk = '';
  for (let i = 1; i <= size; i += 1) {
    chunk += `<message to='${jid ?? ''}' id='${prefix}${i}' type='chat'><body>queued ${i}</body></message>`;
    if (i % 100 === 0 || i === size) {
      sender.sendStanzas(chunk, i % 100 === 0 ? 100 : i % 100);
      chunk = '';
      await sender.drained();
    }
  }
  await sender.awaitAllAcked(STEP_TIMEOUT_MS + size * PER_STANZA_MS);
  await sleep(SETTLE_MS);

  const { client: second } = await login(receiverUser, null);
  try {
    let received = 0;
    let lastAt = 0;
    second.onStanza = (element, now) => {
      if (element.name !== 'message') return;
      if (attribute(element.xml, 'id')?.startsWith(prefix) !== true) return;
      received += 1;
      lastAt = now;
    };
    const { sentAt, resumedAt } = await second.resume(previd, h, STEP_TIMEOUT_MS);
    await waitFor(
      'queued messages after resume',
      () => received >= size,
      STEP_TIMEOUT_MS + size * PER_STANZA_MS,
      5,
    ).catch((error: unknown) => {
      throw new Error(`${errorMessage(error)}: got ${received} of ${size}`);
    });
    return { resumedMs: resumedAt - sentAt, lastQueuedMs: (size === 0 ? resumedAt : lastAt) - sentAt };
  } finally {
    await second.close(2000);
  }
}
