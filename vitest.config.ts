import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { conditions: ['digit-recognizer-source'] },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: 'forks',
    typecheck: { enabled: true, include: ['test/**/*.test-d.ts'] },
  },
});
