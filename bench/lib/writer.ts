/**
 * The results writer: a bench opens tables, adds rows as it measures them (each printed at once as a
 * markdown row, for the reader at the console) and saves the lot, with the run's date, machine,
 * load at both ends, versions and command, to `bench/results/<name>.json`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, relative, resolve } from 'node:path';

import { writeFileAtomic } from '../../src/io/node.js';
import { commandLine, currentLoad, describeMachine, versions } from './machine.js';
import {
  formatCell,
  mergeResults,
  parseResults,
  RESULTS_DIR,
  ROOT,
  roundCell,
  serializeResults,
  type Cell,
  type Column,
  type ResultsFile,
  type Row,
  type Run,
} from './results.js';

export interface TableWriter {
  /** Records a row (numbers kept to each column's digits) and prints it. */
  row(cells: Record<string, Cell>): void;
  /** A line shown under the table in the docs. */
  note(text: string): void;
}

interface OpenTable {
  id: string;
  title: string;
  columns: Column[];
  rows: Row[];
  notes: string[];
}

export interface ResultsWriterOptions {
  /** The script, relative to bench/ without extension: `kernels/max_pool`. */
  readonly bench: string;
  readonly about: string;
  /** The file to write; default `bench/results/<name>.json`. */
  readonly path: string;
  readonly startLoad: number;
  readonly loadNote?: string;
  readonly note?: string;
  /** Print rows as they come (default true). */
  readonly echo?: boolean;
}

export class ResultsWriter {
  private readonly tables: OpenTable[] = [];
  private readonly date = localIsoDate(new Date());
  private saved = false;

  constructor(private readonly options: ResultsWriterOptions) {}

  /** Where the results go. */
  get path(): string {
    return this.options.path;
  }

  table(id: string, title: string, columns: Column[]): TableWriter {
    if (this.tables.some((t) => t.id === id)) throw new Error(`table ${id} opened twice`);
    const table: OpenTable = { id, title, columns, rows: [], notes: [] };
    this.tables.push(table);
    const echo = this.options.echo ?? true;
    if (echo) {
      console.log(`\n${title}\n`);
      console.log(`| ${columns.map((c) => c.label).join(' | ')} |`);
      console.log(`|${columns.map(() => '---').join('|')}|`);
    }
    return {
      row: (cells) => {
        const unknown = Object.keys(cells).filter((k) => !columns.some((c) => c.key === k));
        if (unknown.length > 0) throw new Error(`table ${id} has no column ${unknown.join(', ')}`);
        const kept = Object.fromEntries(columns.map((c) => [c.key, roundCell(c, cells[c.key] ?? null)]));
        table.rows.push({ cells: kept });
        if (echo) console.log(`| ${columns.map((c) => formatCell(c, kept[c.key] ?? null)).join(' | ')} |`);
      },
      note: (text) => {
        table.notes.push(text);
        if (echo) console.log(text);
      },
    };
  }

  /**
   * Writes the file (atomically). With `merge`, rows of the existing file that this run did not
   * measure again stay, with their own runs: a table built up over several runs, as the presets'.
   */
  async save(merge: readonly { table: string; keys: readonly string[] }[] = []): Promise<ResultsFile> {
    if (this.saved) throw new Error('results saved twice');
    this.saved = true;
    const run: Run = {
      date: this.date,
      machine: describeMachine(),
      load: {
        start: this.options.startLoad,
        end: currentLoad(),
        ...(this.options.loadNote === undefined ? {} : { note: this.options.loadNote }),
      },
      versions: await versions(),
      command: commandLine(),
      ...(this.options.note === undefined ? {} : { note: this.options.note }),
    };
    let file: ResultsFile = {
      schema: 1,
      bench: this.options.bench,
      about: this.options.about,
      runs: [run],
      tables: this.tables.map(({ notes, ...table }) => ({ ...table, ...(notes.length > 0 ? { notes } : {}) })),
    };
    const path = this.options.path;
    if (merge.length > 0 && existsSync(path)) {
      const old = parseResults(readFileSync(path, 'utf8'), path);
      for (const { table, keys } of merge) file = mergeResults(old, file, table, keys);
    }
    await mkdir(dirname(path), { recursive: true });
    await writeFileAtomic(path, await serializeResults(file));
    const shown = relative(process.cwd(), path);
    console.log(`\nwrote ${shown.startsWith('..') ? path : shown}`);
    return file;
  }
}

/** `bench/results/<name>.json` in this checkout. */
export function defaultResultsPath(name: string): string {
  return resolve(ROOT, RESULTS_DIR, `${name}.json`);
}

/** `2026-12-01T11:01:05+01:00`: local time with its offset, as a reader of the run would say it. */
export function localIsoDate(date: Date): string {
  const pad = (n: number): string => String(Math.trunc(Math.abs(n))).padStart(2, '0');
  const offset = -date.getTimezoneOffset();
  const zone = offset === 0 ? 'Z' : `${offset > 0 ? '+' : '-'}${pad(offset / 60)}:${pad(offset % 60)}`;
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}${zone}`
  );
}
