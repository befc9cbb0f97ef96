import type { RootProcess } from '../proc-stats.js';

/** What a scenario needs to know about a running server under test. */
export type ServerName = 'holdfast' | 'prosody' | 'ejabberd';

export const SERVER_NAMES: readonly ServerName[] = ['holdfast', 'prosody', 'ejabberd'];

export interface BenchUser {
  readonly name: string;
  readonly password: string;
}

export interface Target {
  readonly name: ServerName;
  readonly version: string;
  readonly host: string;
  readonly port: number;
  readonly domain: string;
  /** Roots of every process of the system (descendants are included when memory and CPU are sampled). */
  processes(): RootProcess[];
  /** Things the reader of the results should know (configuration choices, warnings). */
  readonly notes: readonly string[];
  stop(): Promise<void>;
}

/** Users bench0001…: the same accounts on every server. */
export function benchUsers(count: number): BenchUser[] {
  return Array.from({ length: count }, (_, i) => {
    const n = String(i + 1).padStart(4, '0');
    return { name: `bench${n}`, password: `pw-${n}` };
  });
}
