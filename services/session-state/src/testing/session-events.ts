import type { Bus } from '@holdfast/bus';
import {
  SmEnabled,
  SmHibernationStanzaQueued,
  SmHibernationStarted,
  SmSessionTerminated,
  StanzaSent,
  type SmState,
} from '@holdfast/events';
import { SessionLog, hashSecret } from '@holdfast/session-log';

/**
 * Test support: writes a session's log the way gateways and the timeout service will, fenced like
 * they are, so session-state can be tested without them.
 */
export class SessionScript {
  private readonly log: SessionLog;
  private state: SmState;
  private sent = 0;
  private queued = 0;

  constructor(
    private readonly bus: Bus,
    readonly session: string,
    owner: string,
    { resumable = true, jid = 'alice@localhost/r' } = {},
  ) {
    this.log = new SessionLog(bus);
    this.state = {
      version: 1,
      status: 'ACTIVE',
      jid,
      resumable,
      ...(resumable ? { secretHash: hashSecret('s3cret') } : {}),
      max: resumable ? 60 : 0,
      owner,
      enabledAt: '2025-03-01T11:00:00.000Z',
      h: 0,
      acked: 0,
      ackedThrough: 0,
      writtenThrough: 0,
    };
  }

  async enable(): Promise<void> {
    const { session, state } = this;
    await this.log.publishFenced(
      SmEnabled,
      {
        id: `${session}.enabled`,
        data: { session, jid: state.jid, resumable: state.resumable, max: state.max, state },
      },
      0,
    );
  }

  /** A stanza written to the connected client (not acknowledged). */
  async send(): Promise<void> {
    this.sent += 1;
    await this.bus.publish(StanzaSent, {
      id: `${this.session}.out.${this.sent}`,
      data: { session: this.session, seq: this.sent, stanza: `<message id='out-${this.sent}'/>` },
    });
  }

  async hibernate(): Promise<void> {
    const rest: SmState = { ...this.state };
    delete rest.owner;
    const deadline = '2025-03-01T12:01:00.000Z';
    this.state = { ...rest, status: 'HIBERNATING', hibernatedAt: '2025-03-01T12:00:00.000Z', deadline };
    this.queued = this.sent;
    await this.log.publishFenced(
      SmHibernationStarted,
      {
        id: `${this.session}.hibernated`,
        data: {
          session: this.session,
          jid: this.state.jid,
          deadline,
          queued: this.queued,
          state: this.state,
        },
      },
      await this.log.fence(this.session),
    );
  }

  async queue(): Promise<void> {
    this.queued += 1;
    await this.log.publishFenced(
      SmHibernationStanzaQueued,
      {
        id: `${this.session}.q.${this.queued}`,
        data: {
          session: this.session,
          jid: this.state.jid,
          stanza: `<message id='q-${this.queued}'/>`,
          queueLength: this.queued,
        },
      },
      await this.log.fence(this.session),
    );
  }

  /** Ends the session; `recordKept` as for expired (true) or a reported/revoked h-record (false). */
  async terminate(kind: 'expired' | 'closed', recordKept: boolean): Promise<void> {
    const rest: SmState = { ...this.state };
    delete rest.owner;
    delete rest.hibernatedAt;
    delete rest.deadline;
    this.state = { ...rest, status: 'TERMINATED', terminatedKind: kind, recordKept, h: 3 };
    await this.log.publishFenced(
      SmSessionTerminated,
      {
        id: `${this.session}.terminated.${String(recordKept)}`,
        data: {
          session: this.session,
          jid: this.state.jid,
          kind,
          h: 3,
          unacked: this.queued,
          state: this.state,
        },
      },
      await this.log.fence(this.session),
    );
  }
}
