/**
 * The results files every bench writes (`bench/results/<name>.json`): what the script measures, the
 * runs that produced the figures (date, machine, load, versions, the exact command) and the figures
 * themselves as tables of named columns. `npm run bench:report` renders these tables into the docs;
 * nothing here depends on TensorFlow.js, so the report and the tests load it alone.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as prettier from 'prettier';

/** The repository root. */
export const ROOT = resolve(import.meta.dirname, '../..');
/** Where results files live, relative to a root. */
export const RESULTS_DIR = 'bench/results';
export const SCHEMA = 1;

export type Cell = number | string | null;

export interface Column {
  /** The cell's key in each row. */
  readonly key: string;
  readonly label: string;
  /** Decimals shown for numbers; also what is kept in the file. */
  readonly digits?: number;
  /** Appended to numbers when shown: `x`, ` %`. */
  readonly suffix?: string;
}

export interface Row {
  /** Index into the file's `runs`; the first run when absent. */
  readonly run?: number;
  readonly cells: Readonly<Record<string, Cell>>;
}

export interface Table {
  readonly id: string;
  readonly title: string;
  readonly columns: readonly Column[];
  readonly rows: readonly Row[];
  /** Lines shown under the table. */
  readonly notes?: readonly string[];
}

export interface Machine {
  /** `lscpu`'s model name. */
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  /** `lscpu`'s hypervisor vendor, for a virtual machine. */
  readonly hypervisor?: string;
  /** The widest x86 SIMD the CPU reports (`AVX-512`, `AVX2`, `SSE2`) and its family/model, where recorded. */
  readonly simd?: string;
  readonly family?: string;
}

export interface Load {
  /** `os.loadavg()[0]` when the run started and ended; null where it was not recorded. */
  readonly start: number | null;
  readonly end: number | null;
  /** What is known about the load when no figure was recorded, or why a busy start was allowed. */
  readonly note?: string;
}

export interface Run {
  /** ISO 8601 (`2026-12-01T11:01:00+01:00`), or `YYYY-MM-DD HH:MM` (and free text after) when transcribed. */
  readonly date: string;
  readonly machine: Machine;
  readonly load: Load;
  /** `node`, `tfjs`, `package`, `commit`; a Python peer gives `python` and `torch`. */
  readonly versions: Readonly<Record<string, string>>;
  /** The command as it was typed. */
  readonly command: string;
  /** Where the figures were copied from, for results measured before the scripts wrote files. */
  readonly transcribed?: string;
  readonly note?: string;
}

export interface ResultsFile {
  readonly schema: typeof SCHEMA;
  /** The script, relative to bench/ without its extension: `kernels/max_pool`. */
  readonly bench: string;
  /** What it measures, one sentence. */
  readonly about: string;
  readonly runs: readonly Run[];
  readonly tables: readonly Table[];
}

/** A results file that does not follow the schema, or a reference to one that does not exist. */
export class ResultsError extends Error {
  override readonly name = 'ResultsError';
}

/** Keeps what a column shows: numbers rounded to its digits (six significant digits without). */
export function roundCell(column: Column, value: Cell): Cell {
  if (typeof value !== 'number' || !Number.isFinite(value)) return value;
  if (column.digits !== undefined) return Number(value.toFixed(column.digits));
  return Number(value.toPrecision(6));
}

/** A cell as the docs and the console show it: `1,242`, `2.44x`, `99.19 %`; empty for null. */
export function formatCell(column: Column, value: Cell): string {
  if (value === null) return '';
  if (typeof value === 'string') return value;
  const digits = column.digits ?? (Number.isInteger(value) ? 0 : 2);
  const text = value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
  return `${text}${column.suffix ?? ''}`;
}

/**
 * The file's text as the repository's formatter leaves it, each row on one line where it fits, so a
 * changed figure is a one-line diff and `prettier --check` passes on what a bench wrote.
 */
export async function serializeResults(file: ResultsFile): Promise<string> {
  const lines = new Map<string, string>();
  const oneLine = (value: object): string => {
    const marker = `@@line:${lines.size}@@`;
    lines.set(marker, JSON.stringify(value));
    return marker;
  };
  const marked = {
    ...file,
    tables: file.tables.map((table) => ({
      ...table,
      columns: table.columns.map(oneLine),
      rows: table.rows.map(oneLine),
    })),
  };
  const text = JSON.stringify(marked, null, 2).replace(/"(@@line:\d+@@)"/g, (_, marker: string) => lines.get(marker)!);
  const path = join(ROOT, RESULTS_DIR, 'results.json');
  return prettier.format(text, { ...(await prettier.resolveConfig(path)), filepath: path });
}

/** Parses and checks a results file's text; `where` names it in errors. */
export function parseResults(text: string, where: string): ResultsFile {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ResultsError(`${where}: not JSON (${(error as Error).message})`);
  }
  return checkResults(value, where);
}

/** Reads `bench/results/<name>.json` under `root`. */
export function readResults(name: string, root = ROOT): ResultsFile {
  const path = join(root, RESULTS_DIR, `${name}.json`);
  const where = `${RESULTS_DIR}/${name}.json`;
  if (!existsSync(path)) throw new ResultsError(`${where} does not exist`);
  return parseResults(readFileSync(path, 'utf8'), where);
}

/** The names of every results file under `root`. */
export function listResults(root = ROOT): string[] {
  const dir = join(root, RESULTS_DIR);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.endsWith('.json'))
    .map((name) => name.slice(0, -'.json'.length))
    .sort();
}

/**
 * `fresh` with the rows of `old` that it does not replace: two rows are the same entry when their
 * cells agree on `keys` (for presets: preset and data). Only `tableId` is merged; the runs the kept
 * rows cite come along.
 */
export function mergeResults(
  old: ResultsFile,
  fresh: ResultsFile,
  tableId: string,
  keys: readonly string[],
): ResultsFile {
  const oldTable = old.tables.find((t) => t.id === tableId);
  const freshTable = fresh.tables.find((t) => t.id === tableId);
  if (oldTable === undefined || freshTable === undefined) return fresh;
  const key = (row: Row): string => JSON.stringify(keys.map((k) => row.cells[k] ?? null));
  const replaced = new Set(freshTable.rows.map(key));
  const runs = [...fresh.runs];
  const runIndex = new Map<number, number>();
  const kept = oldTable.rows
    .filter((row) => !replaced.has(key(row)))
    .map((row) => {
      const from = row.run ?? 0;
      if (!runIndex.has(from)) {
        const run = old.runs[from]!;
        const same = runs.findIndex((r) => JSON.stringify(r) === JSON.stringify(run));
        runIndex.set(from, same >= 0 ? same : runs.push(run) - 1);
      }
      return { ...row, run: runIndex.get(from)! };
    });
  const rows = [...kept, ...freshTable.rows.map((row) => ({ ...row, run: row.run ?? 0 }))];
  return { ...fresh, runs, tables: fresh.tables.map((t) => (t.id === tableId ? { ...t, rows } : t)) };
}

// ---- schema check ----------------------------------------------------------------------------

type Json = Record<string, unknown>;

function fail(where: string, path: string, problem: string): never {
  throw new ResultsError(`${where}: ${path}: ${problem}`);
}

function object(value: unknown, where: string, path: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(where, path, 'expected an object');
  return value as Json;
}

function array(value: unknown, where: string, path: string): unknown[] {
  if (!Array.isArray(value)) fail(where, path, 'expected an array');
  return value;
}

function string(value: unknown, where: string, path: string): string {
  if (typeof value !== 'string' || value.trim() === '') fail(where, path, 'expected a non-empty string');
  return value;
}

function optionalString(value: unknown, where: string, path: string): void {
  if (value !== undefined) string(value, where, path);
}

function number(value: unknown, where: string, path: string, nullable = false): void {
  if (nullable && value === null) return;
  if (typeof value !== 'number' || !Number.isFinite(value))
    fail(where, path, `expected a number${nullable ? ' or null' : ''}`);
}

const DATE = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2})?/;

function checkRun(value: unknown, where: string, path: string): void {
  const run = object(value, where, path);
  const date = string(run['date'], where, `${path}.date`);
  if (!DATE.test(date)) fail(where, `${path}.date`, `expected YYYY-MM-DD, got "${date}"`);
  const machine = object(run['machine'], where, `${path}.machine`);
  string(machine['cpu'], where, `${path}.machine.cpu`);
  number(machine['cores'], where, `${path}.machine.cores`);
  number(machine['memoryGiB'], where, `${path}.machine.memoryGiB`);
  optionalString(machine['hypervisor'], where, `${path}.machine.hypervisor`);
  optionalString(machine['simd'], where, `${path}.machine.simd`);
  optionalString(machine['family'], where, `${path}.machine.family`);
  const load = object(run['load'], where, `${path}.load`);
  number(load['start'], where, `${path}.load.start`, true);
  number(load['end'], where, `${path}.load.end`, true);
  optionalString(load['note'], where, `${path}.load.note`);
  if (load['start'] === null && load['note'] === undefined)
    fail(where, `${path}.load`, 'a run without a measured load needs a note saying what is known');
  const versions = object(run['versions'], where, `${path}.versions`);
  for (const [k, v] of Object.entries(versions)) string(v, where, `${path}.versions.${k}`);
  string(run['command'], where, `${path}.command`);
  optionalString(run['transcribed'], where, `${path}.transcribed`);
  optionalString(run['note'], where, `${path}.note`);
}

function checkTable(value: unknown, runs: number, where: string, path: string): void {
  const table = object(value, where, path);
  string(table['id'], where, `${path}.id`);
  string(table['title'], where, `${path}.title`);
  const keys = new Set<string>();
  array(table['columns'], where, `${path}.columns`).forEach((c, i) => {
    const column = object(c, where, `${path}.columns[${i}]`);
    const key = string(column['key'], where, `${path}.columns[${i}].key`);
    if (keys.has(key)) fail(where, `${path}.columns[${i}].key`, `"${key}" appears twice`);
    keys.add(key);
    string(column['label'], where, `${path}.columns[${i}].label`);
    if (column['digits'] !== undefined) number(column['digits'], where, `${path}.columns[${i}].digits`);
    if (column['suffix'] !== undefined && typeof column['suffix'] !== 'string')
      fail(where, `${path}.columns[${i}].suffix`, 'expected a string');
  });
  array(table['rows'], where, `${path}.rows`).forEach((r, i) => {
    const row = object(r, where, `${path}.rows[${i}]`);
    if (row['run'] !== undefined) {
      const run = row['run'];
      if (typeof run !== 'number' || !Number.isInteger(run) || run < 0 || run >= runs)
        fail(where, `${path}.rows[${i}].run`, `expected a run index below ${runs}`);
    }
    for (const [k, cell] of Object.entries(object(row['cells'], where, `${path}.rows[${i}].cells`))) {
      if (!keys.has(k)) fail(where, `${path}.rows[${i}].cells.${k}`, 'is not one of the columns');
      if (cell !== null && typeof cell !== 'string' && (typeof cell !== 'number' || !Number.isFinite(cell)))
        fail(where, `${path}.rows[${i}].cells.${k}`, 'expected a number, a string or null');
    }
  });
  if (table['notes'] !== undefined)
    array(table['notes'], where, `${path}.notes`).forEach((n, i) => string(n, where, `${path}.notes[${i}]`));
}

/** Checks a parsed results file against the schema, naming the first offending field. */
export function checkResults(value: unknown, where: string): ResultsFile {
  const file = object(value, where, '(top)');
  if (file['schema'] !== SCHEMA) fail(where, 'schema', `expected ${SCHEMA}`);
  string(file['bench'], where, 'bench');
  string(file['about'], where, 'about');
  const runs = array(file['runs'], where, 'runs');
  if (runs.length === 0) fail(where, 'runs', 'expected at least one run');
  runs.forEach((run, i) => checkRun(run, where, `runs[${i}]`));
  const ids = new Set<string>();
  array(file['tables'], where, 'tables').forEach((table, i) => {
    checkTable(table, runs.length, where, `tables[${i}]`);
    const id = (table as Json)['id'] as string;
    if (ids.has(id)) fail(where, `tables[${i}].id`, `"${id}" appears twice`);
    ids.add(id);
  });
  return value as ResultsFile;
}
