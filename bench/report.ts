/**
 * Regenerates the figures in the docs from bench/results/*.json (the regions between bench-table
 * and bench-value markers; see bench/lib/report.ts), and rewrites results files the writer would
 * format differently. With `--check` it writes nothing and exits 1 at the first disagreement.
 *
 *   npm run bench:report             rewrite README.md and docs/*.md
 *   npm run bench:report -- --check  what the tests run
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { writeFileAtomic } from '../src/io/node.js';
import { DocError, firstDifference, renderDoc, type DocProblem } from './lib/report.js';
import {
  listResults,
  parseResults,
  RESULTS_DIR,
  ResultsError,
  ROOT,
  serializeResults,
  type ResultsFile,
} from './lib/results.js';

/** The docs that may hold generated figures, relative to `root`. */
function docsUnder(root: string): string[] {
  const docs = existsSync(join(root, 'README.md')) ? ['README.md'] : [];
  const dir = join(root, 'docs');
  if (existsSync(dir)) for (const name of readdirSync(dir).sort()) if (name.endsWith('.md')) docs.push(`docs/${name}`);
  return docs;
}

export async function report(root: string, check: boolean): Promise<{ problems: string[]; written: string[] }> {
  const problems: string[] = [];
  const written: string[] = [];
  const results = new Map<string, ResultsFile>();
  for (const name of listResults(root)) {
    const where = `${RESULTS_DIR}/${name}.json`;
    const path = join(root, where);
    const text = readFileSync(path, 'utf8');
    try {
      const file = parseResults(text, where);
      results.set(name, file);
      const normal = await serializeResults(file);
      if (normal !== text) {
        if (check) problems.push(`${where}: not as the results writer formats it; run npm run bench:report`);
        else {
          await writeFileAtomic(path, normal);
          written.push(where);
        }
      }
    } catch (error) {
      if (!(error instanceof ResultsError)) throw error;
      problems.push(error.message);
    }
  }
  const lookup = (name: string): ResultsFile => {
    const file = results.get(name);
    if (file === undefined) throw new ResultsError(`${RESULTS_DIR}/${name}.json does not exist or is invalid`);
    return file;
  };
  for (const doc of docsUnder(root)) {
    const path = join(root, doc);
    const text = readFileSync(path, 'utf8');
    if (!/<!--\s*bench-(table|value)\s/.test(text)) continue;
    let expected: string;
    try {
      expected = await renderDoc(text, doc, lookup);
    } catch (error) {
      if (!(error instanceof DocError)) throw error;
      problems.push(error.message);
      continue;
    }
    if (check) {
      const difference: DocProblem | null = firstDifference(text, expected, doc);
      if (difference !== null) problems.push(`${difference.doc}:${difference.line}: ${difference.problem}`);
    } else if (expected !== text) {
      await writeFileAtomic(path, expected);
      written.push(doc);
    }
  }
  return { problems, written };
}

let values: { check: boolean; root?: string | undefined };
try {
  ({ values } = parseArgs({ options: { check: { type: 'boolean', default: false }, root: { type: 'string' } } }));
} catch (error) {
  process.stderr.write(
    `bench:report: ${(error as Error).message.split('\n')[0]} (usage: bench/report.ts [--check] [--root DIR])\n`,
  );
  process.exit(1);
}
const root = values.root === undefined ? ROOT : resolve(values.root);
const { problems, written } = await report(root, values.check);
if (problems.length > 0) {
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : '';
  process.stderr.write(`bench:report: ${problems[0]}${more}\n`);
  process.exit(1);
}
if (values.check) console.log('bench:report: the docs agree with bench/results');
else
  console.log(written.length === 0 ? 'bench:report: nothing to change' : `bench:report: rewrote ${written.join(', ')}`);
