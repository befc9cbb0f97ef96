import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/**
 * A real XMPP client for integration tests: slixmpp (Debian's python3-slixmpp 1.8) run by Debian's own
 * /usr/bin/python3, scripted through JSON lines (see slixmpp_client.py for the protocol).
 */

/** Debian's interpreter: python3-slixmpp installs for it, not for a pyenv or venv python3 on PATH. */
export const SLIXMPP_PYTHON = '/usr/bin/python3';

const REMEDY =
  'run ./holdfast setup (as root) to install python3-slixmpp, or: apt-get install python3-slixmpp';

/** The client script; beside this module in src/, which the build output in dist/ does not copy. */
export const SLIXMPP_CLIENT_SCRIPT =
  [
    path.join(import.meta.dirname, 'slixmpp_client.py'),
    path.join(import.meta.dirname, '..', 'src', 'slixmpp_client.py'),
  ].find((candidate) => existsSync(candidate)) ?? path.join(import.meta.dirname, 'slixmpp_client.py');

export type SlixmppTls = 'starttls' | 'none';

export interface SlixmppOptions {
  /** Bare or full JID; a full JID requests that resource. */
  readonly jid: string;
  readonly password: string;
  /** Where to connect, without DNS (an IP literal is best); default 127.0.0.1. */
  readonly host?: string;
  readonly port: number;
  /** `starttls`: require STARTTLS, certificate not verified (self-signed test certs); `none`: never TLS, PLAIN allowed. */
  readonly tls: SlixmppTls;
  /** Only this SASL mechanism (e.g. `PLAIN`); default: slixmpp's choice, trying the next one after a failure. */
  readonly saslMechanism?: string;
  /** Each connection attempt must reach a session (or fail) within this; default 10 000 ms. */
  readonly connectTimeoutMs?: number;
  /** Approve incoming subscription requests automatically; default false (the test answers them). */
  readonly autoAuthorize?: boolean;
  /**
   * Request the roster at session start, before initial presence, as RFC 6121 clients do; default true.
   * Only a resource that requested the roster gets roster pushes and subscription presences. The answer
   * arrives as a `roster` event with ref null.
   */
  readonly fetchRoster?: boolean;
  /** Send initial presence at session start (after the roster request); default true. */
  readonly initialPresence?: boolean;
  /** slixmpp debug logging, kept in recentStderr(); default false. */
  readonly debug?: boolean;
  /** How long to wait for the script to start (import slixmpp); default 15 000 ms. */
  readonly startTimeoutMs?: number;
  /** Name in error messages; default the JID. */
  readonly name?: string;
}

type Ref = string | number;

export interface SlixmppStanzaError {
  readonly type: string;
  readonly condition: string;
  readonly text: string | null;
}

export interface SlixmppRosterItem {
  readonly jid: string;
  readonly name: string | null;
  readonly subscription: 'none' | 'to' | 'from' | 'both' | 'remove';
  readonly ask: string | null;
  readonly groups: readonly string[];
}

export interface SlixmppMessageEvent {
  readonly event: 'message';
  readonly from: string | null;
  readonly to: string | null;
  readonly type: string;
  readonly id: string | null;
  /** null when the message has no <body/>. */
  readonly body: string | null;
  readonly subject: string | null;
  readonly thread: string | null;
  readonly error: SlixmppStanzaError | null;
  /** XEP-0359 `<stanza-id/>` children. */
  readonly stanzaIds: readonly { readonly by: string | null; readonly id: string | null }[];
}

/** One archived message as slixmpp's XEP-0313 iterator returned it. */
export interface SlixmppArchivedMessage {
  /** The archive id (the result's `id`). */
  readonly id: string;
  /** The forwarded delay stamp (ISO 8601). */
  readonly stamp: string;
  readonly from: string | null;
  readonly to: string | null;
  readonly body: string;
}

export interface SlixmppPresenceEvent {
  readonly event: 'presence';
  readonly from: string | null;
  readonly to: string | null;
  /** `available`, `unavailable`, `subscribe`, `subscribed`, `unsubscribe`, `unsubscribed`, `probe`, `error`. */
  readonly type: string;
  readonly id: string | null;
  readonly show: string | null;
  readonly status: string | null;
  readonly priority: number | null;
  readonly error: SlixmppStanzaError | null;
}

/** What the client reports, one JSON line each. */
export type SlixmppEvent =
  | { readonly event: 'ready'; readonly version: string; readonly pid: number }
  | { readonly event: 'connected' }
  | { readonly event: 'tls_success' }
  | { readonly event: 'auth_success'; readonly mechanism: string | null }
  | {
      readonly event: 'failed_auth';
      readonly mechanism: string | null;
      readonly condition: string | null;
      readonly text: string | null;
    }
  | { readonly event: 'session_start'; readonly jid: string }
  | SlixmppMessageEvent
  | SlixmppPresenceEvent
  | {
      readonly event: 'roster';
      readonly items: readonly SlixmppRosterItem[];
      readonly ver: string | null;
      readonly ref: Ref | null;
    }
  | {
      readonly event: 'roster_update';
      readonly items: readonly SlixmppRosterItem[];
      readonly ver: string | null;
    }
  | { readonly event: 'result'; readonly cmd: string; readonly ref: Ref | null }
  | { readonly event: 'pong'; readonly rtt: number; readonly ref: Ref | null }
  | { readonly event: 'mam'; readonly messages: readonly SlixmppArchivedMessage[]; readonly ref: Ref | null }
  | { readonly event: 'echo'; readonly cmd: 'echo'; readonly ref?: Ref; readonly [key: string]: unknown }
  | { readonly event: 'stream_error'; readonly condition: string | null; readonly text: string | null }
  | { readonly event: 'connection_failed'; readonly text: string }
  | { readonly event: 'disconnected'; readonly reason: string | null }
  | {
      readonly event: 'error';
      readonly text: string;
      readonly cmd?: string | null;
      readonly ref?: Ref | null;
      readonly condition?: string | null;
    }
  | { readonly event: 'fatal'; readonly text: string };

export type SlixmppEventName = SlixmppEvent['event'];
export type SlixmppEventOf<E extends SlixmppEventName> = Extract<SlixmppEvent, { readonly event: E }>;

/** What the client can be told; `timeout` fields are in seconds. */
export type SlixmppCommand = (
  | {
      readonly cmd: 'send_message';
      readonly to: string;
      readonly body?: string;
      /** Default `chat`. */
      readonly type?: 'chat' | 'normal' | 'groupchat' | 'headline' | 'error';
      /** Default a random id. */
      readonly id?: string;
      readonly subject?: string;
      readonly thread?: string;
    }
  | {
      readonly cmd: 'send_presence';
      readonly to?: string;
      readonly type?: string;
      readonly show?: 'away' | 'chat' | 'dnd' | 'xa';
      readonly status?: string;
      readonly priority?: number;
    }
  | { readonly cmd: 'subscribe' | 'unsubscribe' | 'subscribed' | 'unsubscribed'; readonly to: string }
  | { readonly cmd: 'get_roster'; readonly timeout?: number }
  | {
      readonly cmd: 'roster_set';
      readonly jid: string;
      readonly name?: string;
      readonly groups?: readonly string[];
      readonly timeout?: number;
    }
  | { readonly cmd: 'roster_remove'; readonly jid: string; readonly timeout?: number }
  | { readonly cmd: 'ping'; readonly to?: string; readonly timeout?: number }
  | { readonly cmd: 'mam_query'; readonly with?: string; readonly max?: number; readonly reverse?: boolean }
  | { readonly cmd: 'send_raw'; readonly xml: string }
  | { readonly cmd: 'echo'; readonly [key: string]: unknown }
  | { readonly cmd: 'connect' }
  | { readonly cmd: 'abort' }
  | { readonly cmd: 'disconnect'; readonly wait?: number }
) & { readonly ref?: Ref };

export interface SlixmppClient {
  /** The JID it was started with (session_start reports the bound one). */
  readonly jid: string;
  /** Every event so far, in order, consumed or not. */
  readonly events: readonly SlixmppEvent[];
  /** Resolves with the exit code once the process is gone (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  /**
   * The earliest event not yet taken by another next() that matches (an event name, or a predicate),
   * waiting for it up to `timeoutMs`; rejects on timeout or when the process exits first. Events that
   * do not match stay queued for later next() calls.
   */
  next<E extends SlixmppEventName>(event: E, timeoutMs?: number): Promise<SlixmppEventOf<E>>;
  next<T extends SlixmppEvent>(
    predicate: (event: SlixmppEvent) => event is T,
    timeoutMs?: number,
  ): Promise<T>;
  next(predicate: (event: SlixmppEvent) => boolean, timeoutMs?: number): Promise<SlixmppEvent>;
  /** Writes one command; answers (if any) arrive as events. */
  send(command: SlixmppCommand): void;
  /**
   * Sends a command that answers (get_roster, roster_set, roster_remove, ping, echo) with a fresh ref
   * and resolves with its answer; rejects with the client's error text when it answers with an error.
   */
  request(command: SlixmppCommand, timeoutMs?: number): Promise<SlixmppEvent>;
  /** Closes the stream (disconnect), waits for the process to exit, kills it after `graceMs`; default 5000. */
  stop(graceMs?: number): Promise<void>;
  /** The last lines the process wrote to stderr (slixmpp's log), for error messages. */
  recentStderr(): string;
}

/** Resolves with slixmpp's version, or rejects saying how to install it (for a clear beforeAll check). */
export async function slixmppVersion(): Promise<string> {
  const code = 'import slixmpp, sys; sys.stdout.write(slixmpp.__version__)';
  try {
    const { stdout } = await execFileAsync(SLIXMPP_PYTHON, ['-I', '-c', code], { timeout: 15_000 });
    return stdout.trim();
  } catch (error) {
    const detail = error instanceof Error ? error.message.trim() : String(error);
    throw new Error(`slixmpp: ${SLIXMPP_PYTHON} cannot import slixmpp; ${REMEDY}\n${detail}`, {
      cause: error,
    });
  }
}

const KEPT_LINES = 200;
const DEFAULT_WAIT_MS = 10_000;

interface Waiter {
  readonly match: (event: SlixmppEvent) => boolean;
  readonly resolve: (event: SlixmppEvent) => void;
  readonly reject: (error: Error) => void;
}

/** Starts the client; resolves once slixmpp is loaded and connecting (wait for `session_start` next). */
export async function startSlixmpp(options: SlixmppOptions): Promise<SlixmppClient> {
  const name = `slixmpp ${options.name ?? options.jid}`;
  if (!existsSync(SLIXMPP_PYTHON)) {
    throw new Error(
      `${name}: ${SLIXMPP_PYTHON} does not exist; slixmpp tests need Debian's python3; ${REMEDY}`,
    );
  }
  if (!existsSync(SLIXMPP_CLIENT_SCRIPT)) throw new Error(`${name}: ${SLIXMPP_CLIENT_SCRIPT} is missing`);
  const args = [
    '-I', // ignore PYTHON* variables and the user's site-packages: Debian's packages only
    '-u',
    SLIXMPP_CLIENT_SCRIPT,
    options.jid,
    options.password,
    options.host ?? '127.0.0.1',
    String(options.port),
    '--tls',
    options.tls,
    '--connect-timeout',
    String((options.connectTimeoutMs ?? 10_000) / 1000),
  ];
  if (options.saslMechanism !== undefined) args.push('--sasl-mech', options.saslMechanism);
  if (options.autoAuthorize === true) args.push('--auto-authorize');
  if (options.fetchRoster === false) args.push('--no-roster');
  if (options.initialPresence === false) args.push('--no-initial-presence');
  if (options.debug === true) args.push('--debug');

  const child = spawn(SLIXMPP_PYTHON, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const events: SlixmppEvent[] = [];
  const queued: SlixmppEvent[] = [];
  const waiters = new Set<Waiter>();
  const stderr: string[] = [];
  let gone: Error | undefined;

  const keep = (line: string): void => {
    stderr.push(line);
    if (stderr.length > KEPT_LINES) stderr.shift();
  };
  const recentStderr = (): string => stderr.join('\n');
  const recentEvents = (): string =>
    events
      .slice(-10)
      .map((event) => JSON.stringify(event))
      .join('\n');

  const deliver = (event: SlixmppEvent): void => {
    events.push(event);
    for (const waiter of waiters) {
      if (waiter.match(event)) {
        waiters.delete(waiter);
        waiter.resolve(event);
        return;
      }
    }
    queued.push(event);
  };

  createInterface({ input: child.stdout }).on('line', (line) => {
    let event: SlixmppEvent;
    try {
      event = JSON.parse(line) as SlixmppEvent;
    } catch {
      keep(`stdout: ${line}`);
      return;
    }
    deliver(event);
  });
  createInterface({ input: child.stderr }).on('line', keep);
  child.stdin.on('error', () => {
    // EPIPE after the process exited; `exited` reports that.
  });

  const exited = new Promise<number | null>((resolve) => {
    // 'close' comes after the output streams ended, so every event line was delivered first.
    child.once('close', (code) => {
      gone = new Error(`${name} exited (code ${String(code)})`);
      for (const waiter of waiters) waiter.reject(gone);
      waiters.clear();
      resolve(code);
    });
  });
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (error) => {
      reject(new Error(`${name}: cannot run ${SLIXMPP_PYTHON} (${error.message}); ${REMEDY}`));
    });
  });

  function next(
    match: SlixmppEventName | ((event: SlixmppEvent) => boolean),
    timeoutMs = DEFAULT_WAIT_MS,
  ): Promise<SlixmppEvent> {
    const matches = (event: SlixmppEvent): boolean => {
      try {
        return typeof match === 'string' ? event.event === match : match(event);
      } catch {
        return false; // a predicate that throws on an event it did not expect does not match it
      }
    };
    const what = typeof match === 'string' ? `a ${match} event` : `an event matching ${String(match)}`;
    const index = queued.findIndex(matches);
    if (index >= 0) return Promise.resolve(queued.splice(index, 1)[0] as SlixmppEvent);
    if (gone !== undefined) {
      return Promise.reject(
        new Error(`${gone.message} before ${what}; last events:\n${recentEvents()}\n${recentStderr()}`),
      );
    }
    return new Promise<SlixmppEvent>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new Error(`${name}: no ${what} within ${timeoutMs} ms; last events:\n${recentEvents()}`));
      }, timeoutMs);
      const waiter: Waiter = {
        match: matches,
        resolve: (event) => {
          clearTimeout(timer);
          resolve(event);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(
            new Error(`${error.message} before ${what}; last events:\n${recentEvents()}\n${recentStderr()}`),
          );
        },
      };
      waiters.add(waiter);
    });
  }

  const send = (command: SlixmppCommand): void => {
    if (gone !== undefined || !child.stdin.writable)
      throw new Error(`${name}: not running, cannot send ${command.cmd}`);
    child.stdin.write(`${JSON.stringify(command)}\n`);
  };

  let refs = 0;
  const request = async (command: SlixmppCommand, timeoutMs = DEFAULT_WAIT_MS): Promise<SlixmppEvent> => {
    refs += 1;
    const ref = command.ref ?? `ref${refs}`;
    send({ ...command, ref });
    const answer = await next((event) => 'ref' in event && event.ref === ref, timeoutMs);
    if (answer.event === 'error') {
      const condition = answer.condition ?? 'no condition';
      throw new Error(`${name}: ${command.cmd} answered with an error (${condition}): ${answer.text}`);
    }
    return answer;
  };

  const stop = async (graceMs = 5000): Promise<void> => {
    if (gone === undefined && child.stdin.writable) {
      child.stdin.write(`${JSON.stringify({ cmd: 'disconnect', wait: Math.min(2, graceMs / 2000) })}\n`);
      child.stdin.end();
    }
    let timer: NodeJS.Timeout | undefined;
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        child.kill('SIGKILL');
        setTimeout(resolve, 2000).unref(); // 'close' normally comes at once; never wait forever
      }, graceMs);
    });
    await Promise.race([exited, killed]);
    clearTimeout(timer);
  };

  const client: SlixmppClient = {
    jid: options.jid,
    events,
    exited,
    next,
    send,
    request,
    stop,
    recentStderr,
  };

  try {
    await spawned;
    const first = await next(
      (event) => event.event === 'ready' || event.event === 'fatal',
      options.startTimeoutMs ?? 15_000,
    );
    if (first.event === 'fatal') throw new Error(`${name}: ${first.text}; ${REMEDY}`);
    return client;
  } catch (error) {
    await stop(1000);
    const message = error instanceof Error ? error.message : String(error);
    if (message.includes(REMEDY)) throw error;
    throw new Error(`${name} did not start: ${message}\n${recentStderr()}`, { cause: error });
  }
}
