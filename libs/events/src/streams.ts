/**
 * JetStream streams, declared once. The bus derives stream configuration from these; every event
 * definition names the stream it lives in.
 */
export interface StreamDeclaration {
  readonly name: string;
  readonly subjects: readonly string[];
  readonly description: string;
  /** How long events are kept, in seconds. */
  readonly maxAgeS: number;
  /** Window in which a repeated `Nats-Msg-Id` is dropped as a duplicate, in seconds. */
  readonly duplicateWindowS: number;
}

const DAY = 86_400;

export const STREAMS = {
  session: {
    name: 'HF_SESSION',
    subjects: ['hf.session.>'],
    description: 'per-session connection, stanza and stream-management events, partitioned by session',
    maxAgeS: 7 * DAY,
    duplicateWindowS: 120,
  },
  s2s: {
    name: 'HF_S2S',
    subjects: ['hf.s2s.>'],
    description: 'server-to-server link events',
    maxAgeS: 7 * DAY,
    duplicateWindowS: 120,
  },
} as const satisfies Record<string, StreamDeclaration>;

export type StreamKey = keyof typeof STREAMS;
