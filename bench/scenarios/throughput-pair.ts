import { attribute } from '../xml-stream-splitter.js';
import type { XmppClient } from '../xmpp-client.js';

/**
 * One sender → receiver pair of the throughput scenario. The sender keeps at most `window` messages in
 * flight; each message carries its send time in its id, and its arrival at the receiver (same process,
 * same clock) both closes a window slot and yields a one-way latency.
 */
export interface PairRecorder {
  /** Called for each delivered message with its arrival time and latency (ms). */
  delivered(now: number, latencyMs: number): void;
  sent(now: number, count: number): void;
  bounced(): void;
}

const BATCH = 50;

export class ThroughputPair {
  private inFlight = 0;
  private seq = 0;
  private sending = false;
  private stopped = true;
  private waitingForDrain = false;

  constructor(
    private readonly sender: XmppClient,
    private readonly receiver: XmppClient,
    private readonly receiverJid: string,
    private readonly window: number,
    private readonly recorder: PairRecorder,
  ) {
    receiver.onStanza = (element, now) => {
      if (element.name !== 'message') return;
      const id = attribute(element.xml, 'id');
      if (id === undefined || !id.startsWith('t')) return;
      const sentAt = Number(id.slice(id.indexOf('-') + 1));
      this.inFlight -= 1;
      recorder.delivered(now, now - sentAt);
      this.pump();
    };
    sender.onStanza = (element) => {
      if (element.name === 'message' && attribute(element.xml, 'type') === 'error') {
        this.inFlight -= 1;
        recorder.bounced();
        this.pump();
      }
    };
  }

  get pending(): number {
    return this.inFlight;
  }

  start(): void {
    this.stopped = false;
    this.pump();
  }

  stop(): void {
    this.stopped = true;
  }

  /** Sends as many messages as the window allows, in batches written as one chunk. */
  private pump(): void {
    if (this.stopped || this.sending || this.waitingForDrain) return;
    this.sending = true;
    try {
      while (this.inFlight < this.window) {
        const count = Math.min(BATCH, this.window - this.inFlight);
        const now = performance.now();
        const stamp = now.toFixed(3);
        let chunk = '';
        for (let i = 0; i < count; i += 1) {
          this.seq += 1;
          chunk += `<message to='${this.receiverJid}' id='t${this.seq}-${stamp}' type='chat'><body>bench ${this.seq}</body></message>`;
        }
        this.inFlight += count;
        this.recorder.sent(now, count);
        if (!this.sender.sendStanzas(chunk, count)) {
          this.waitingForDrain = true;
          this.sender.drained().then(
            () => {
              this.waitingForDrain = false;
              this.pump();
            },
            () => {
              this.stopped = true;
            },
          );
          return;
        }
      }
    } finally {
      this.sending = false;
    }
  }
}
