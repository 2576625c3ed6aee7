/**
 * Where and how a bench ran: the machine (`lscpu`), its load, the versions in use and the command
 * line, recorded in every results file so a figure can be traced to the run that produced it.
 */
import { spawnSync } from 'node:child_process';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { relative } from 'node:path';

import { VERSION } from '../../src/version.js';
import { ROOT, type Machine } from './results.js';

/** Benchmarks share nothing: above this one-minute load average at the start, a run is refused. */
export const MAX_START_LOAD = 0.3;

/** `lscpu`'s fields, or none where it is missing. */
function lscpu(): Map<string, string> {
  const run = spawnSync('lscpu', { encoding: 'utf8' });
  const fields = new Map<string, string>();
  if (run.status !== 0) return fields;
  for (const line of run.stdout.split('\n')) {
    const at = line.indexOf(':');
    if (at > 0) fields.set(line.slice(0, at).trim(), line.slice(at + 1).trim());
  }
  return fields;
}

export function describeMachine(): Machine {
  const fields = lscpu();
  const hypervisor = fields.get('Hypervisor vendor');
  // The same model name has come with and without AVX-512 here (AMD hosts of two generations), so say which.
  const flags = ` ${fields.get('Flags') ?? ''} `;
  const simd = flags.includes(' avx512f ') ? 'AVX-512' : flags.includes(' avx2 ') ? 'AVX2' : 'SSE2';
  const family = fields.get('CPU family');
  return {
    cpu: fields.get('Model name') ?? cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    memoryGiB: Number((totalmem() / 2 ** 30).toFixed(1)),
    ...(hypervisor === undefined ? {} : { hypervisor }),
    simd,
    ...(family === undefined ? {} : { family: `family ${family} model ${fields.get('Model') ?? '?'}` }),
  };
}

/** The one-minute load average, two decimals. */
export function currentLoad(): number {
  return Number(loadavg()[0]!.toFixed(2));
}

/**
 * Whether a run may start at `load`: refused above {@link MAX_START_LOAD} unless `allowed`, in
 * which case the returned warning goes to the console and into the results.
 */
export function loadVerdict(load: number, allowed: boolean): { ok: boolean; warning?: string } {
  if (load <= MAX_START_LOAD) return { ok: true };
  const problem = `load average ${load} is above ${MAX_START_LOAD}: other work is running, so timings would mix with it`;
  if (!allowed)
    return { ok: false, warning: `${problem}; wait for an idle machine, or pass --allow-load to record anyway` };
  return { ok: true, warning: `started at load ${load} (above ${MAX_START_LOAD}) with --allow-load` };
}

function git(...args: string[]): string | undefined {
  const run = spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' });
  return run.status === 0 ? run.stdout.trim() : undefined;
}

/** Node, TensorFlow.js and this package's versions, and the commit (`-dirty` with local changes). */
export async function versions(): Promise<Record<string, string>> {
  const { version_core: tfjs } = await import('@tensorflow/tfjs-core');
  const commit = git('rev-parse', '--short', 'HEAD');
  const dirty = git('status', '--porcelain', '--untracked-files=no');
  return {
    node: process.versions.node,
    tfjs,
    package: VERSION,
    ...(commit === undefined ? {} : { commit: dirty === '' || dirty === undefined ? commit : `${commit}-dirty` }),
  };
}

const quote = (arg: string): string => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`);

/** The command as typed: `npm run bench -- bench/kernels/max_pool.ts --rounds 12`, or the node line. */
export function commandLine(argv: readonly string[] = process.argv): string {
  const [, script = '', ...args] = argv;
  const path = relative(ROOT, script) || script;
  const event = process.env['npm_lifecycle_event'];
  // Only the bench scripts pass a script on; a bench started by `npm test` inherits `test`.
  if (event === 'bench' || event?.startsWith('bench:') === true)
    return [`npm run ${event} --`, path, ...args.map(quote)].join(' ');
  return ['node', ...process.execArgv.map(quote), path, ...args.map(quote)].join(' ');
}
