declare module 'vitest' {
  export interface ProvidedContext {
    /** nats-server with JetStream for this test run. */
    natsUrl: string;
    /** MongoDB-wire server for this test run. */
    mongoUrl: string;
  }
}

export {};
