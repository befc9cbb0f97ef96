import { readFileSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { OPTIONS } from './options.js';
import { renderConfigDocs } from './render-docs.js';

describe('docs/configuration.md', () => {
  it('lists every option', () => {
    const docs = renderConfigDocs();
    for (const option of Object.values(OPTIONS)) expect(docs).toContain(`\`${option.env}\``);
  });

  it('is up to date with OPTIONS (regenerate with `npm run docs:config`)', () => {
    const file = path.resolve(import.meta.dirname, '../../../docs/configuration.md');
    expect(readFileSync(file, 'utf8')).toBe(renderConfigDocs());
  });

  it('uses unique environment variables', () => {
    const names = Object.values(OPTIONS).map((option) => option.env);
    expect(new Set(names).size).toBe(names.length);
  });
});
