import type { Option, OptionGroup } from './option.js';
import { OPTIONS } from './options.js';

const GROUPS: readonly OptionGroup[] = [
  'infrastructure',
  'telemetry',
  'gateway',
  'stream management',
  'muc reliability',
];

const cell = (value: string): string => value.replaceAll('|', '\\|');

/** docs/configuration.md, rendered from OPTIONS so the docs cannot drift from the code. */
export function renderConfigDocs(): string {
  const entries = Object.entries(OPTIONS) as [string, Option<unknown>][];
  const lines = [
    '# Configuration',
    '',
    'Every option is an environment variable, validated at start: an invalid value stops the process with a',
    'message naming the variable. This file is generated from `libs/config/src/options.ts` by',
    '`npm run docs:config`; a unit test fails when it is out of date.',
  ];
  for (const group of GROUPS) {
    lines.push(
      '',
      `## ${group[0]?.toUpperCase()}${group.slice(1)}`,
      '',
      '| key | variable | default | meaning |',
    );
    lines.push('| --- | --- | --- | --- |');
    for (const [key, option] of entries.filter(([, o]) => o.group === group)) {
      lines.push(`| \`${key}\` | \`${option.env}\` | ${cell(option.defaultDoc)} | ${cell(option.doc)} |`);
    }
  }
  return `${lines.join('\n')}\n`;
}
