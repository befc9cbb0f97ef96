import type { Environment } from '@holdfast/config';
import { NS, xml, type Element } from '@holdfast/xmpp';

import { startCluster, type TestCluster } from './cluster.js';
import { SmClient } from './sm-client.js';

export const SM = NS.SM;

/** Spec §8 test profile, plus plaintext SASL PLAIN for the raw client. */
export const SM_TEST_PROFILE: Environment = {
  C2S_REQUIRE_ENCRYPTION: 'false',
  SASL_ALLOW_PLAIN_WITHOUT_TLS: 'true',
  SM_HIBERNATION_TIME_S: '5',
  SM_MAX_QUEUE_SIZE: '5',
  SM_MAX_HIBERNATED_SESSIONS: '2',
  SM_MAX_OLD_SESSIONS: '2',
  SM_MAX_ACK_DELAY_S: '2',
  SM_READ_TIMEOUT_S: '4',
};

/** A cluster with the §8 profile, its accounts (password `<user>-pw`) and the clients a file opened. */
export interface SmScenarios {
  readonly cluster: TestCluster;
  port(gateway?: number): number;
  bound(user: string, resource: string, gateway?: number): Promise<SmClient>;
  authenticated(user: string, gateway?: number): Promise<SmClient>;
  /** Authenticated (unbound) over the gateway's WebSocket endpoint. */
  authenticatedWebSocket(user: string, gateway?: number): Promise<SmClient>;
  /** Kills every client, stops the cluster. */
  stop(): Promise<void>;
}

export async function startSmScenarios(options: {
  readonly users: readonly string[];
  readonly gateways?: number;
  readonly env?: Environment;
}): Promise<SmScenarios> {
  const cluster = await startCluster({
    gateways: options.gateways ?? 1,
    env: { ...SM_TEST_PROFILE, ...options.env },
  });
  const now = new Date();
  for (const user of options.users) await cluster.accounts.add(user, `${user}-pw`, now);
  const clients: SmClient[] = [];
  const port = (gateway = 0): number => cluster.gateways[gateway]?.listening.c2sPort ?? 0;
  const track = (client: SmClient): SmClient => {
    clients.push(client);
    return client;
  };
  return {
    cluster,
    port,
    bound: async (user, resource, gateway) =>
      track(await SmClient.bound(port(gateway), user, `${user}-pw`, resource)),
    authenticated: async (user, gateway) =>
      track(await SmClient.authenticated(port(gateway), user, `${user}-pw`)),
    authenticatedWebSocket: async (user, gateway = 0) =>
      track(
        await SmClient.authenticatedWebSocket(
          cluster.gateways[gateway]?.listening.websocketUrl ?? '',
          user,
          `${user}-pw`,
        ),
      ),
    stop: async () => {
      for (const client of clients) client.kill();
      await cluster.stop();
    },
  };
}

export const isSm =
  (name: string) =>
  (element: Element): boolean =>
    element.name === name && element.attrs.xmlns === SM;

export const isStreamError = (element: Element): boolean =>
  element.name === 'error' && element.attrs.xmlns === NS.STREAM;

export const isFeatures = (element: Element): boolean =>
  element.name === 'features' && element.attrs.xmlns === NS.STREAM;

export const isMessage =
  (id: string) =>
  (element: Element): boolean =>
    element.name === 'message' && element.attrs.id === id;

/** The one child of a `<failed/>` or `<stream:error/>` in `ns` (its condition). */
export function conditionOf(element: Element, ns: string): string | undefined {
  return element.children.find(
    (child): child is Element => typeof child !== 'string' && child.attrs.xmlns === ns,
  )?.name;
}

/** Names of the element's child elements, `{ns}name`, in order. */
export function childNames(element: Element): string[] {
  return element.children
    .filter((child): child is Element => typeof child !== 'string')
    .map((child) => `{${child.attrs.xmlns ?? ''}}${child.name}`);
}

export const stanzasCondition = (element: Element): string | undefined =>
  conditionOf(element, NS.STANZA_ERROR);
export const streamsCondition = (element: Element): string | undefined =>
  conditionOf(element, NS.STREAM_ERROR);

export function chat(to: string, id: string, body = id): Element {
  return xml('message', { to, id, type: 'chat' }, xml('body', {}, body));
}

/** `<resume/>` for `previd` with `h`. */
export function resume(previd: string, h: number | string): Element {
  return xml('resume', { xmlns: SM, previd, h: String(h) });
}

/** Sends `<resume/>` and returns the `<resumed/>` or `<failed/>` answer. */
export async function resumeWith(client: SmClient, previd: string, h: number | string): Promise<Element> {
  client.send(resume(previd, h));
  return client.next((e) => e.attrs.xmlns === SM && (e.name === 'resumed' || e.name === 'failed'));
}

/** Stanzas the client received since `<enabled/>`: its `h` if it handled them all (spec §1.3). */
export function receivedSinceEnabled(client: SmClient): number {
  const enabled = client.received.findIndex(isSm('enabled'));
  return enabled < 0 ? 0 : client.stanzas.filter((e) => client.received.indexOf(e) > enabled).length;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
