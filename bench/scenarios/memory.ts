import { errorMessage, inParallel, sleep } from '../async-utils.js';
import { sampleTreeMemory } from '../proc-stats.js';
import type { BenchUser, Target } from '../servers/target.js';
import { median, round } from '../stats.js';
import { XmppClient } from '../xmpp-client.js';
import { shrinkWarning } from './memory-figures.js';

/**
 * Scenario 3: summed RSS of every process of the server system before and after creating `sessions`
 * hibernated sessions (SM enabled with resumption, TCP killed without closing the stream) holding
 * `queued` unacked messages each; the difference divided by the sessions. Each figure is the median of 3
 * samples taken 1 s apart after a settle time (garbage collection cannot be forced in the peers).
 */
export interface MemoryOptions {
  /** The whole scenario must end by then (performance.now() time); the send phase uses what is left. */
  readonly deadline: number;
  readonly sessions: number;
  readonly queued: number;
  readonly sessionsPerUser: number;
  readonly settleMs: number;
  readonly tag: string;
}

export interface MemoryResult {
  readonly sessions: number;
  readonly queuedPerSession: number;
  readonly beforeKb: number;
  readonly afterKb: number;
  readonly perSessionKb: number | null;
  /** Set when a process shrank meanwhile (a garbage collection, returned heap): the figure is then rough. */
  readonly warning?: string;
  readonly processes: readonly {
    readonly name: string;
    readonly beforeKb: number;
    readonly afterKb: number;
  }[];
}

const LOGIN_CONCURRENCY = 20;
const STEP_TIMEOUT_MS = 60_000;
const CHUNK = 200;

/** Settle time plus three samples 1 s apart. */
const settleAndSampleMs = (settleMs: number): number => settleMs + 2000;

async function settledSample(target: Target, settleMs: number): Promise<ReturnType<typeof sampleTreeMemory>> {
  await sleep(settleMs);
  const samples: ReturnType<typeof sampleTreeMemory>[] = [];
  for (let i = 0; i < 3; i += 1) {
    if (i > 0) await sleep(1000);
    samples.push(sampleTreeMemory(target.processes()));
  }
  const mid = median(samples.map((s) => s.rssKb));
  return samples.find((s) => s.rssKb === mid) ?? (samples[1] as ReturnType<typeof sampleTreeMemory>);
}

export async function runMemory(
  target: Target,
  users: readonly BenchUser[],
  sender: BenchUser,
  options: MemoryOptions,
): Promise<MemoryResult> {
  const needed = Math.ceil(options.sessions / options.sessionsPerUser);
  if (users.length < needed)
    throw new Error(`need ${needed} users for ${options.sessions} sessions, have ${users.length}`);
  const before = await settledSample(target, options.settleMs);

  const jids: string[] = [];
  await inParallel(
    Array.from({ length: options.sessions }, (_, i) => i),
    LOGIN_CONCURRENCY,
    async (i) => {
      const user = users[i % needed] as BenchUser;
      const { client, jid } = await XmppClient.login({
        host: target.host,
        port: target.port,
        domain: target.domain,
        user: user.name,
        password: user.password,
        resource: `hib-${options.tag}-${i}`,
        timeoutMs: STEP_TIMEOUT_MS,
      });
      try {
        const enabled = await client.enableSm(true, STEP_TIMEOUT_MS);
        if (!enabled.resume) throw new Error('server did not grant resumption');
        jids.push(jid ?? '');
      } finally {
        client.kill();
      }
    },
  );
  await sleep(1000);

  const { client: tx } = await XmppClient.login({
    host: target.host,
    port: target.port,
    domain: target.domain,
    user: sender.name,
    password: sender.password,
    resource: `hib-tx-${options.tag}`,
  });
  try {
    await tx.enableSm(false, STEP_TIMEOUT_MS);
    // Sent in chunks, each acked by the server before the next: bounded by what is left of the deadline.
    const sendDeadline = options.deadline - settleAndSampleMs(options.settleMs) - 5000;
    let chunk = '';
    let inChunk = 0;
    for (const [j, jid] of jids.entries()) {
      for (let m = 1; m <= options.queued; m += 1) {
        chunk += `<message to='${jid}' id='hib-${j}-${m}' type='chat'><body>queued ${m}</body></message>`;
        inChunk += 1;
      }
      if (inChunk >= CHUNK || j === jids.length - 1) {
        tx.sendStanzas(chunk, inChunk);
        chunk = '';
        inChunk = 0;
        const left = sendDeadline - performance.now();
        await tx.awaitAllAcked(Math.max(1000, left)).catch((error: unknown) => {
          throw new Error(
            `the server took ${tx.serverAcked} of ${jids.length * options.queued} queued messages in time (${errorMessage(error)})`,
          );
        });
      }
    }
  } finally {
    await tx.close(2000);
  }

  const after = await settledSample(target, options.settleMs);
  const byCommand = (sample: ReturnType<typeof sampleTreeMemory>): Map<string, number> => {
    const map = new Map<string, number>();
    for (const p of sample.processes) map.set(p.name, (map.get(p.name) ?? 0) + p.rssKb);
    return map;
  };
  const beforeBy = byCommand(before);
  const afterBy = byCommand(after);
  const processes = [...new Set([...beforeBy.keys(), ...afterBy.keys()])].map((name) => ({
    name,
    beforeKb: beforeBy.get(name) ?? 0,
    afterKb: afterBy.get(name) ?? 0,
  }));
  const warning = shrinkWarning(processes, after.rssKb - before.rssKb);
  return {
    sessions: jids.length,
    queuedPerSession: options.queued,
    beforeKb: before.rssKb,
    afterKb: after.rssKb,
    perSessionKb: round((after.rssKb - before.rssKb) / Math.max(1, jids.length), 2),
    processes,
    ...(warning === undefined ? {} : { warning }),
  };
}
