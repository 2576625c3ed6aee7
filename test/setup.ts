import { afterEach } from 'vitest';

// Many tests here are long stretches of synchronous tensor work, and a test file's awaits on
// resolved promises never let the event loop reach I/O. The forks pool's worker talks to the
// runner over an RPC with a fixed 60 s timeout, and Node runs expired timers before it reads
// the reply that came in meanwhile: a file that keeps the loop busy past 60 s fails the run with
// 'Timeout calling "onTaskUpdate"' although every test passed (test/kernels.test.ts took 69 s
// on a slow host). Yielding to the loop after each test bounds that to one test's duration.
afterEach(() => new Promise<void>((resolve) => setImmediate(resolve)));
