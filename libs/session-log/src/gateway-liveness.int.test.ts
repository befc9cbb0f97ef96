import { Kvm } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bus } from '@holdfast/bus';
import { eventually, recordingLogger, testInfrastructure, uniqueId } from '@holdfast/testing';

import {
  forgetGateway,
  gatewayKey,
  openGatewaysBucket,
  startHeartbeat,
  watchGateways,
  type DeadGateway,
  type GatewayWatch,
} from './gateway-liveness.js';

const logger = recordingLogger();
let bus: Bus;

beforeAll(async () => {
  bus = await Bus.connect({ url: testInfrastructure().natsUrl, name: 'liveness-test', node: 'test', logger });
});

afterAll(async () => {
  await bus.drain();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A watcher on its own bucket, recording every report with the time it came. */
async function watch(bucket: string, deadAfterMs = 600) {
  const dead: { node: string; gateway: DeadGateway; at: number }[] = [];
  const watcher: GatewayWatch = await watchGateways(bus, {
    bucket,
    deadAfterMs,
    pollMs: 50,
    onDead: (node, gateway) => {
      dead.push({ node, gateway, at: Date.now() });
    },
  });
  return { dead, watcher };
}

/** Simulates a crash: the process stops beating and never deletes its key. */
async function crash(node: string, bucket: string, intervalMs = 100) {
  const kv = await openGatewaysBucket(bus, { bucket });
  for (let i = 0; i < 3; i++) {
    await kv.put(gatewayKey(node), JSON.stringify({ node, at: new Date().toISOString(), incarnation: 'x' }));
    await sleep(intervalMs);
  }
  return Date.now();
}

describe('gateway liveness', () => {
  it('reports a gateway that stops beating without deleting its key, once, within deadAfterMs', async () => {
    const bucket = uniqueId('GW');
    const { dead, watcher } = await watch(bucket);
    const lastBeat = await crash('gw-crashed', bucket);
    const report = await eventually(() => dead[0], { timeoutMs: 3000, what: 'dead report' });
    expect(report.node).toBe('gw-crashed');
    expect(report.at - lastBeat).toBeGreaterThanOrEqual(400);
    expect(report.at - lastBeat).toBeLessThan(1500);
    await sleep(500);
    expect(dead).toHaveLength(1);
    await watcher.stop();
  });

  it('never reports a live gateway, nor one that stopped cleanly', async () => {
    const bucket = uniqueId('GW');
    const { dead, watcher } = await watch(bucket);
    const live = await startHeartbeat(bus, 'gw-live', { bucket, intervalMs: 100 });
    const clean = await startHeartbeat(bus, 'gw-clean', { bucket, intervalMs: 100 });
    await sleep(300);
    await clean.stop();
    await sleep(1500);
    expect(dead).toEqual([]);
    await live.stop();
    await watcher.stop();
  });

  it('reports a gateway again when it came back and died again', async () => {
    const bucket = uniqueId('GW');
    const { dead, watcher } = await watch(bucket);
    await crash('gw-flaky', bucket);
    await eventually(() => dead[0], { timeoutMs: 3000 });
    await crash('gw-flaky', bucket);
    const second = await eventually(() => dead[1], { timeoutMs: 3000 });
    expect(second.node).toBe('gw-flaky');
    expect(second.gateway.revision).toBeGreaterThan(dead[0]?.gateway.revision ?? 0);
    await watcher.stop();
  });

  it('reports a key found already stale when the watcher starts, and forgets it after a takeover', async () => {
    const bucket = uniqueId('GW');
    const started = await startHeartbeat(bus, 'gw-old', { bucket, intervalMs: 60_000 });
    expect(started.uncleanPrevious).toBeUndefined();
    await sleep(800);
    const { dead, watcher } = await watch(bucket);
    const report = await eventually(() => dead[0], { timeoutMs: 1000, what: 'immediate dead report' });
    expect(await forgetGateway(bus, report.gateway, { bucket })).toBe(true);
    const kv = await new Kvm(bus.js).open(bucket);
    expect((await kv.get(gatewayKey('gw-old')))?.operation).not.toBe('PUT');
    await watcher.stop();
    await started.stop();
  });

  it('tells a restarted gateway that its previous process did not stop cleanly', async () => {
    const bucket = uniqueId('GW');
    await crash('gw-restarted', bucket);
    const restarted = await startHeartbeat(bus, 'gw-restarted', { bucket });
    expect(restarted.uncleanPrevious).toMatchObject({ node: 'gw-restarted', incarnation: 'x' });
    await restarted.stop();
    const again = await startHeartbeat(bus, 'gw-restarted', { bucket });
    expect(again.uncleanPrevious).toBeUndefined();
    await again.stop();
  });

  it('does not forget a gateway that beat again after it was reported', async () => {
    const bucket = uniqueId('GW');
    const { dead, watcher } = await watch(bucket);
    await crash('gw-back', bucket);
    const report = await eventually(() => dead[0], { timeoutMs: 3000 });
    const back = await startHeartbeat(bus, 'gw-back', { bucket, intervalMs: 100 });
    expect(await forgetGateway(bus, report.gateway, { bucket })).toBe(false);
    await back.stop();
    await watcher.stop();
  });

  it('retries a failed handler', async () => {
    const bucket = uniqueId('GW');
    let calls = 0;
    const watcher = await watchGateways(bus, {
      bucket,
      deadAfterMs: 300,
      pollMs: 50,
      retryMs: 100,
      onDead: () => {
        calls += 1;
        if (calls === 1) throw new Error('store down');
      },
    });
    await crash('gw-retry', bucket, 50);
    await eventually(() => (calls >= 2 ? true : undefined), { timeoutMs: 3000 });
    await sleep(400);
    expect(calls).toBe(2);
    await watcher.stop();
  });
});
