/**
 * Renders results files into the docs. A doc marks where figures go, and everything between a
 * marker and its end is generated (edit the results file, not the doc):
 *
 *   <!-- bench-table max_pool#steps -->            a whole table from bench/results/max_pool.json,
 *   <!-- /bench-table -->                          with its date, machine, load and command
 *
 *   <!-- bench-value presets#presets preset=default data=mnist minutes -->11.6<!-- /bench-value -->
 *                                                  one cell: the row whose cells match, that column
 *
 * The whole doc is then formatted as the repository's prettier does, so `--check` can compare the
 * file with what it would write.
 */
import { dirname, join, relative } from 'node:path';
import * as prettier from 'prettier';

import {
  formatCell,
  RESULTS_DIR,
  ResultsError,
  ROOT,
  type Cell,
  type Column,
  type ResultsFile,
  type Run,
  type Table,
} from './results.js';

/** A problem found in a doc: the doc, its 1-based line and what is wrong. */
export interface DocProblem {
  readonly doc: string;
  readonly line: number;
  readonly problem: string;
}

interface Region {
  readonly kind: 'table' | 'value';
  /** The opening marker's arguments: `max_pool#steps` or `presets#presets preset=default minutes`. */
  readonly args: string;
  /** Offsets of the generated text: after the opening marker, before the closing one. */
  readonly from: number;
  readonly to: number;
  readonly line: number;
}

const OPEN = /<!--\s*bench-(table|value)\s+([^>]*?)\s*-->/g;

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** The regions of a doc, in order; unclosed markers are problems. */
export function findRegions(text: string, doc: string): Region[] {
  const regions: Region[] = [];
  for (const match of text.matchAll(OPEN)) {
    const kind = match[1] as 'table' | 'value';
    const from = match.index + match[0].length;
    const close = text.indexOf(`<!-- /bench-${kind} -->`, from);
    const line = lineAt(text, match.index);
    const next = text.slice(from).search(/<!--\s*bench-(table|value)\s/);
    if (close < 0 || (next >= 0 && from + next < close))
      throw new DocError({ doc, line, problem: `bench-${kind} ${match[2]} has no <!-- /bench-${kind} --> after it` });
    regions.push({ kind, args: match[2]!, from, to: close, line });
  }
  return regions;
}

export class DocError extends Error {
  override readonly name = 'DocError';
  constructor(readonly detail: DocProblem) {
    super(`${detail.doc}:${detail.line}: ${detail.problem}`);
  }
}

function reference(args: string): { name: string; table: string; rest: string[] } {
  const [ref = '', ...rest] = args.split(/\s+/);
  const [name, table] = ref.split('#');
  if (name === undefined || name === '' || table === undefined || table === '')
    throw new ResultsError(`expected NAME#TABLE (bench/results/NAME.json, table id TABLE), got "${ref}"`);
  return { name, table, rest };
}

function findTable(file: ResultsFile, name: string, id: string): Table {
  const table = file.tables.find((t) => t.id === id);
  if (table === undefined)
    throw new ResultsError(
      `${RESULTS_DIR}/${name}.json has no table "${id}" (it has ${file.tables.map((t) => t.id).join(', ')})`,
    );
  return table;
}

function showDate(date: string): string {
  const iso = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.exec(date);
  if (iso === null) return date;
  return `${iso[1]} ${iso[2]} ${iso[3] === 'Z' ? 'UTC' : `UTC${iso[3]}`}`;
}

const VERSION_LABELS: Record<string, string> = { node: 'Node', tfjs: 'tfjs', python: 'Python', torch: 'torch' };

function showLoad(load: Run['load']): string {
  const figures =
    load.start === null
      ? undefined
      : `load ${load.start}${load.end === null ? '' : ` at the start, ${load.end} at the end`}`;
  if (figures !== undefined && load.note !== undefined) return `${figures} (${load.note})`;
  return figures ?? load.note ?? '';
}

/** One line on a run: when, where, with what, under which load, and the command. */
export function describeRun(run: Run): string {
  const m = run.machine;
  const cpu =
    m.simd === undefined ? m.cpu : `${m.cpu} (${[m.family, m.simd].filter((f) => f !== undefined).join(', ')})`;
  const machine = `${cpu}${m.hypervisor === undefined ? '' : `, ${m.hypervisor} guest`}, ${m.cores} cores, ${m.memoryGiB} GiB`;
  const versions = Object.entries(run.versions)
    .filter(([k]) => k !== 'package')
    .map(([k, v]) => `${VERSION_LABELS[k] ?? k} ${v}`)
    .join(', ');
  const parts = [showDate(run.date), machine, versions, showLoad(run.load), `\`${run.command}\``];
  if (run.note !== undefined) parts.push(run.note);
  if (run.transcribed !== undefined) parts.push(`transcribed from ${run.transcribed}`);
  return parts.filter((p) => p !== '').join(' · ');
}

const escapeCell = (text: string): string => text.replaceAll('|', '\\|');

/** A table with its title, runs and notes, as markdown (before formatting). */
export function renderTable(file: ResultsFile, name: string, id: string, doc: string): string {
  const table = findTable(file, name, id);
  const link = `[${RESULTS_DIR}/${name}.json](${relative(dirname(doc), join(RESULTS_DIR, `${name}.json`))})`;
  const used = [...new Set(table.rows.map((r) => r.run ?? 0))];
  const columns: Column[] = used.length > 1 ? [{ key: '\0run', label: 'run' }, ...table.columns] : [...table.columns];
  const cellsOf = (row: Table['rows'][number]): Record<string, Cell> =>
    used.length > 1 ? { ...row.cells, '\0run': used.indexOf(row.run ?? 0) + 1 } : row.cells;
  const out = [`**${table.title}**`, ''];
  if (used.length === 1) out.push(`${describeRun(file.runs[used[0]!]!)} · ${link}`, '');
  else {
    out.push(`Runs (${link}):`, '');
    used.forEach((r, i) => out.push(`${i + 1}. ${describeRun(file.runs[r]!)}`));
    out.push('');
  }
  out.push(`| ${columns.map((c) => escapeCell(c.label)).join(' | ')} |`);
  out.push(
    `| ${columns.map((c) => (table.rows.some((r) => typeof cellsOf(r)[c.key] === 'number') ? '---:' : '---')).join(' | ')} |`,
  );
  for (const row of table.rows) {
    const cells = cellsOf(row);
    out.push(`| ${columns.map((c) => escapeCell(formatCell(c, cells[c.key] ?? null))).join(' | ')} |`);
  }
  for (const note of table.notes ?? []) out.push('', note);
  return out.join('\n');
}

/** One cell: `presets#presets preset=default data=mnist minutes`. */
export function renderValue(file: ResultsFile, args: string): string {
  const { name, table: id, rest } = reference(args);
  const table = findTable(file, name, id);
  const key = rest.at(-1);
  const where = rest.slice(0, -1).map((pair) => {
    const at = pair.indexOf('=');
    if (at <= 0) throw new ResultsError(`expected KEY=VALUE, got "${pair}"`);
    return [pair.slice(0, at), pair.slice(at + 1)] as const;
  });
  const column = table.columns.find((c) => c.key === key);
  if (column === undefined) throw new ResultsError(`table ${name}#${id} has no column "${key ?? ''}"`);
  const rows = table.rows.filter((row) => where.every(([k, v]) => String(row.cells[k] ?? '') === v));
  if (rows.length !== 1)
    throw new ResultsError(`${rows.length} rows of ${name}#${id} match ${where.map((w) => w.join('=')).join(' ')}`);
  return formatCell(column, rows[0]!.cells[column.key] ?? null);
}

/** The doc with every region regenerated from `results(name)` and the whole formatted. */
export async function renderDoc(text: string, doc: string, results: (name: string) => ResultsFile): Promise<string> {
  let out = '';
  let at = 0;
  for (const region of findRegions(text, doc)) {
    let body: string;
    try {
      const { name, table } = reference(region.args);
      body =
        region.kind === 'table'
          ? `\n${renderTable(results(name), name, table, doc)}\n\n`
          : renderValue(results(name), region.args);
    } catch (error) {
      if (error instanceof ResultsError)
        throw new DocError({
          doc,
          line: region.line,
          problem: `bench-${region.kind} ${region.args}: ${error.message}`,
        });
      throw error;
    }
    out += text.slice(at, region.from) + body;
    at = region.to;
  }
  out += text.slice(at);
  const path = join(ROOT, doc);
  return prettier.format(out, { ...(await prettier.resolveConfig(path)), filepath: path });
}

/** Where `actual` first differs from `expected`, named by the region around it, or null when equal. */
export function firstDifference(actual: string, expected: string, doc: string): DocProblem | null {
  if (actual === expected) return null;
  const a = actual.split('\n');
  const e = expected.split('\n');
  let line = 0;
  while (line < a.length && line < e.length && a[line] === e[line]) line++;
  const offset = e.slice(0, line).reduce((n, l) => n + l.length + 1, 0);
  const region = findRegions(expected, doc).find((r) => offset >= r.from - 1 && offset <= r.to);
  // Around the first differing character, spaces squeezed: the cell that changed.
  const [x, y] = [e[line] ?? '', a[line] ?? ''];
  let at = 0;
  while (at < x.length && x[at] === y[at]) at++;
  const near = (l: string): string =>
    l
      .slice(Math.max(0, at - 40), at + 40)
      .replace(/\s+/g, ' ')
      .trim();
  const what =
    region === undefined
      ? 'differs from what npm run bench:report writes (outside the generated regions: format it with prettier)'
      : `bench-${region.kind} ${region.args} (line ${region.line}) disagrees with ${RESULTS_DIR}/${reference(region.args).name}.json: ` +
        `expected "${near(x)}", found "${near(y)}"; run npm run bench:report`;
  return { doc, line: line + 1, problem: what };
}
