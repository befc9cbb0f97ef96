import { errorMessage, inParallel, sleep, waitFor } from '../async-utils.js';
import { Reservoir } from '../stats.js';
import { XmppClient } from '../xmpp-client.js';
import type { FromWorker, ToWorker, WorkerConfig } from './throughput-protocol.js';
import { ThroughputPair } from './throughput-pair.js';

/**
 * A client worker process of the throughput scenario (forked by throughput.ts): logs in its pairs,
 * reports ready, runs warmup + measured window on `start`, drains, closes its streams and reports.
 */
const MAX_KEPT_LATENCIES = 500_000;

async function send(message: FromWorker): Promise<void> {
  await new Promise<void>((resolve) => {
    if (process.send === undefined) resolve();
    else
      process.send(message, undefined, {}, () => {
        resolve();
      });
  });
}

async function run(config: WorkerConfig, started: Promise<void>): Promise<void> {
  const clients: XmppClient[] = [];
  const pairs: ThroughputPair[] = [];
  let windowStart = Number.POSITIVE_INFINITY;
  let windowEnd = Number.POSITIVE_INFINITY;
  let delivered = 0;
  let sent = 0;
  let bounced = 0;
  const latencies = new Reservoir(MAX_KEPT_LATENCIES);
  const recorder = {
    delivered: (now: number, latencyMs: number) => {
      if (now < windowStart || now >= windowEnd) return;
      delivered += 1;
      latencies.add(latencyMs);
    },
    sent: (now: number, count: number) => {
      if (now >= windowStart && now < windowEnd) sent += count;
    },
    bounced: () => {
      bounced += 1;
    },
  };

  const login = async (
    user: { name: string; password: string },
    resource: string,
  ): Promise<{ client: XmppClient; jid: string }> => {
    const { client, jid } = await XmppClient.login({
      host: config.host,
      port: config.port,
      domain: config.domain,
      user: user.name,
      password: user.password,
      resource,
    });
    clients.push(client);
    if (config.sm) await client.enableSm(true, 15_000);
    return { client, jid: jid ?? '' };
  };

  try {
    await inParallel(config.pairs, 10, async (pair, index) => {
      const receiver = await login(pair.receiver, `rx-${config.tag}-${index}`);
      const sender = await login(pair.sender, `tx-${config.tag}-${index}`);
      pairs.push(new ThroughputPair(sender.client, receiver.client, receiver.jid, config.window, recorder));
    });
    await send({ type: 'ready' });
    await started;

    const t0 = performance.now();
    windowStart = t0 + config.warmupMs;
    windowEnd = windowStart + config.durationMs;
    const ackTimer = config.sm
      ? setInterval(() => {
          for (const client of clients) client.requestAck();
        }, 250)
      : undefined;
    for (const pair of pairs) pair.start();
    await sleep(windowStart - performance.now());
    const cpuStart = process.cpuUsage();
    const wallStart = performance.now();
    await sleep(windowEnd - performance.now());
    const cpu = process.cpuUsage(cpuStart);
    const wallMs = performance.now() - wallStart;
    for (const pair of pairs) pair.stop();
    clearInterval(ackTimer);
    await waitFor('drain', () => pairs.every((p) => p.pending <= 0), 5000).catch(() => undefined);
    const undelivered = pairs.reduce((sum, p) => sum + Math.max(0, p.pending), 0);
    await Promise.all(clients.map((client) => client.close(2000)));
    const kept = Float64Array.from(latencies.values());
    await send({
      type: 'result',
      delivered,
      sent,
      latencies: kept,
      latencyCount: latencies.total,
      bounced,
      cpuMs: (cpu.user + cpu.system) / 1000,
      wallMs,
      undelivered,
    });
  } finally {
    for (const client of clients) client.kill();
  }
}

let resolveStart: () => void = () => undefined;
const started = new Promise<void>((resolve) => {
  resolveStart = resolve;
});

process.on('message', (message: ToWorker) => {
  if (message.type === 'start') {
    resolveStart();
    return;
  }
  setTimeout(() => {
    void send({ type: 'error', message: `worker hard limit of ${message.hardLimitMs} ms reached` }).finally(
      () => process.exit(2),
    );
  }, message.hardLimitMs).unref();
  run(message, started).then(
    () => {
      process.disconnect();
    },
    async (error: unknown) => {
      await send({ type: 'error', message: errorMessage(error) });
      process.disconnect();
    },
  );
});
process.on('disconnect', () => {
  setTimeout(() => process.exit(0), 100).unref();
});
