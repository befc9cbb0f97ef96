import path from 'node:path';

import { defineConfig } from 'vitest/config';

const root = import.meta.dirname;

export default defineConfig({
  resolve: {
    // Tests run against the libraries' sources, not their build output.
    alias: [{ find: /^@holdfast\/([a-z-]+)$/, replacement: path.join(root, 'libs/$1/src/index.ts') }],
  },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['{libs,services}/*/src/**/*.unit.test.ts', 'bench/**/*.unit.test.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'int',
          include: ['{libs,services}/*/src/**/*.int.test.ts', 'test/**/*.test.ts'],
          globalSetup: ['libs/testing/src/global-setup.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
