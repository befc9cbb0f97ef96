import type { Option } from './option.js';
import { OPTIONS } from './options.js';

type Options = typeof OPTIONS;
export type OptionKey = keyof Options;
type ValueOf<O> = O extends Option<infer T> ? T : never;

/** The validated configuration: one readonly field per option of OPTIONS. */
export type Config = { readonly [K in OptionKey]: ValueOf<Options[K]> };

export interface LoadedConfig {
  readonly config: Config;
  /** Values that were adjusted at start (spec §3 clamping), to be logged as warnings. */
  readonly warnings: readonly string[];
}

/** Raised at start when the environment holds invalid values; lists every problem at once. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'HF_CONFIG_INVALID';
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
}

export type Environment = Readonly<Record<string, string | undefined>>;

/** Reads, validates and adjusts every option from `env` (default: the process environment). */
export function loadConfig(env: Environment = process.env): LoadedConfig {
  const problems: string[] = [];
  const values: Record<string, unknown> = {};
  for (const [key, option] of Object.entries(OPTIONS) as [OptionKey, Option<unknown>][]) {
    const raw = env[option.env]?.trim();
    if (raw === undefined || raw === '') {
      values[key] = option.fallback();
      continue;
    }
    try {
      values[key] = option.parse(raw);
    } catch (error) {
      problems.push(`${option.env}=${JSON.stringify(raw)}: ${(error as Error).message}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return clamp(values as Config);
}

/** Spec §3: ack thresholds must stay below max_queue_size, else the queue fills before an ack is asked. */
function clamp(config: Config): LoadedConfig {
  const warnings: string[] = [];
  const limit = config.max_queue_size - 1;
  const adjusted = { ...config };
  for (const key of ['max_unacked_stanzas', 'max_inactive_unacked_stanzas'] as const) {
    if (adjusted[key] > limit) {
      warnings.push(`${OPTIONS[key].env}=${adjusted[key]} is not below max_queue_size; clamped to ${limit}`);
      adjusted[key] = limit;
    }
  }
  return { config: Object.freeze(adjusted), warnings };
}

/** True when the option's variable is set to a non-empty value (as opposed to falling back to its default). */
export function isExplicit(key: OptionKey, env: Environment = process.env): boolean {
  return (env[OPTIONS[key].env]?.trim() ?? '') !== '';
}

/** The environment for a child process: this process's environment with `overrides` applied. */
export function childEnvironment(overrides: Environment = {}): NodeJS.ProcessEnv {
  return { ...process.env, ...overrides };
}
