import { hostname } from 'node:os';

export type OptionGroup =
  'infrastructure' | 'telemetry' | 'gateway' | 'stream management' | 'muc reliability';

/** One configuration option: where it comes from, what it means, how it is parsed. */
export interface Option<T> {
  readonly env: string;
  readonly group: OptionGroup;
  readonly doc: string;
  /** The value when the variable is unset or empty. */
  readonly fallback: () => T;
  /** How the default reads in the docs. */
  readonly defaultDoc: string;
  /** Parses a non-empty raw value; throws an Error whose message says what was expected. */
  readonly parse: (raw: string) => T;
}

interface Common {
  readonly env: string;
  readonly group: OptionGroup;
  readonly doc: string;
}

export function int(common: Common & { default: number; min: number; max?: number }): Option<number> {
  const max = common.max ?? Number.MAX_SAFE_INTEGER;
  return {
    ...common,
    fallback: () => common.default,
    defaultDoc: String(common.default),
    parse: (raw) => {
      const value = /^-?\d+$/.test(raw) ? Number(raw) : Number.NaN;
      if (!Number.isSafeInteger(value) || value < common.min || value > max) {
        const range = common.max === undefined ? `>= ${common.min}` : `${common.min}..${common.max}`;
        throw new Error(`expected an integer ${range}`);
      }
      return value;
    },
  };
}

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

export function bool(common: Common & { default: boolean }): Option<boolean> {
  return {
    ...common,
    fallback: () => common.default,
    defaultDoc: String(common.default),
    parse: (raw) => {
      const lower = raw.toLowerCase();
      if (TRUE.has(lower)) return true;
      if (FALSE.has(lower)) return false;
      throw new Error('expected true or false');
    },
  };
}

export function text(common: Common & { default: string }): Option<string> {
  return {
    ...common,
    fallback: () => common.default,
    defaultDoc: JSON.stringify(common.default),
    parse: (raw) => raw,
  };
}

export function optionalText(common: Common): Option<string | undefined> {
  return { ...common, fallback: () => undefined, defaultDoc: 'unset', parse: (raw) => raw };
}

export function oneOf<const V extends string>(
  common: Common & { values: readonly V[]; default: V },
): Option<V> {
  return {
    ...common,
    fallback: () => common.default,
    defaultDoc: common.default,
    parse: (raw) => {
      const found = common.values.find((value) => value === raw);
      if (found === undefined) throw new Error(`expected one of ${common.values.join(', ')}`);
      return found;
    },
  };
}

function parseUrl(raw: string, protocols: readonly string[]): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`expected a URL (${protocols.join(', ')})`);
  }
  if (!protocols.includes(url.protocol))
    throw new Error(`expected a URL with scheme ${protocols.join(' or ')}`);
  return raw;
}

export function url(common: Common & { default: string; protocols: readonly string[] }): Option<string> {
  return {
    ...common,
    fallback: () => common.default,
    defaultDoc: common.default,
    parse: (raw) => parseUrl(raw, common.protocols),
  };
}

export function optionalUrl(common: Common & { protocols: readonly string[] }): Option<string | undefined> {
  return {
    ...common,
    fallback: () => undefined,
    defaultDoc: 'unset',
    parse: (raw) => parseUrl(raw, common.protocols),
  };
}

/** The host name: a node id that is stable across restarts of one container or machine. */
export function hostText(common: Common): Option<string> {
  return { ...common, fallback: () => hostname(), defaultDoc: 'the host name', parse: (raw) => raw };
}
