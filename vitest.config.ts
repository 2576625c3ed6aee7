import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { SlowFirstSequencer } from './test/slow_first.js';

export default defineConfig({
  // Tests import the package by name, as consumers do, but run against the source.
  resolve: {
    alias: [{ find: /^digit-recognizer$/, replacement: fileURLToPath(new URL('./src/index.ts', import.meta.url)) }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 600_000,
    pool: 'forks',
    // Two files at a time on a 2-core machine (vitest's default is one fewer than the cores): most
    // of the slow files wait on a child process or a browser, and one at a time left a core idle
    // (CI, 2026-12-07: 12.7 min of CPU in 13.5 min of wall time).
    maxWorkers: 2,
    minWorkers: 1,
    sequence: { sequencer: SlowFirstSequencer },
    // In CI also a JSON report, from which .ci/run prints a plain "N passed, N failed" line.
    reporters: process.env['CI'] === 'true' ? ['default', 'json'] : ['default'],
    outputFile: { json: '.vitest-out/results.json' },
    typecheck: { enabled: true, include: ['test/**/*.test-d.ts'] },
  },
});
