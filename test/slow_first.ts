/**
 * The order vitest starts the test files in: the slow ones (a browser or child processes, a minute
 * or more each) first, longest first, so that the two workers finish together instead of one
 * starting a two-minute file near the end. Within each group, vitest's own order.
 */
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** Longest first, from CI's record (`.vitest-out/results.json`, 2026-12-07). */
const SLOW = [
  'test/browser/resume.test.ts',
  'test/browser/webgpu.test.ts',
  'test/example.test.ts',
  'test/resume.test.ts',
  'test/kernels.test.ts',
  'test/browser/web.test.ts',
  'test/package.test.ts',
  'test/browser/train_budget.test.ts',
  'test/run_lock.test.ts',
];

export class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (file: TestSpecification): number => {
      const at = SLOW.findIndex((slow) => file.moduleId.endsWith(slow));
      return at < 0 ? SLOW.length : at;
    };
    return (await super.sort(files)).sort((a, b) => rank(a) - rank(b));
  }
}
