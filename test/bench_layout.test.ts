/**
 * The tree's conventions: one file-name style, a bench index that lists every script, and bench
 * paths named in the code and docs that exist.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const SKIP = new Set(['node_modules', '.git', 'dist', 'out', '.vitest-out', '.artifacts', '.out', '__pycache__']);

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    if (SKIP.has(name)) continue;
    const path = dir === '' ? name : `${dir}/${name}`;
    if (statSync(join(ROOT, path)).isDirectory()) out.push(...files(path));
    else out.push(path);
  }
  return out;
}

const tree = files('');

describe('file names', () => {
  it('of code are snake_case: lower case, digits and underscores before the first dot', () => {
    // Docs keep the names their links use.
    const offenders = tree.filter((path) => {
      if (!/\.(ts|mts|js|mjs|py|c|h|sh)$/.test(path)) return false;
      const stem = path.split('/').at(-1)!.split('.')[0]!;
      return stem !== '' && !/^[a-z0-9_]+$/.test(stem);
    });
    expect(offenders).toEqual([]);
  });
});

describe('bench/', () => {
  const index = readFileSync(join(ROOT, 'bench/README.md'), 'utf8');
  const listed = new Set([...index.matchAll(/^\| `([a-z_]+\/[a-z_]+\.(?:ts|py))`/gm)].map((m) => m[1]!));
  const scripts = tree
    .filter((path) => /^bench\/[a-z_]+\/[a-z_]+\.(ts|py)$/.test(path))
    .map((path) => path.slice('bench/'.length));

  it('README.md lists every script and module, and each one it lists exists', () => {
    expect(scripts.filter((s) => !listed.has(s))).toEqual([]);
    expect([...listed].filter((s) => !scripts.includes(s))).toEqual([]);
  });

  it('holds scripts in folders by kind only', () => {
    const kinds = new Set(scripts.map((s) => s.split('/')[0]));
    expect([...kinds].sort()).toEqual(['data', 'kernels', 'lib', 'peers', 'recipes', 'steps']);
    const loose = tree.filter((p) => /^bench\/[^/]+\.(ts|py)$/.test(p));
    expect(loose).toEqual(['bench/report.ts']);
  });

  // The notebook quotes commands as they were run, and so do the generated tables' captions.
  const HISTORICAL = new Set(['docs/benchmarks-history.md', 'CHANGELOG.md']);
  const withoutGenerated = (text: string): string =>
    text.replace(/<!--\s*bench-(table|value)\s[^>]*-->[\s\S]*?<!-- \/bench-\1 -->/g, '');

  it('paths of bench scripts named in code and docs exist', () => {
    const missing: string[] = [];
    for (const path of tree) {
      if (!/\.(ts|js|py|md|c|sh)$/.test(path) || HISTORICAL.has(path)) continue;
      const text = withoutGenerated(readFileSync(join(ROOT, path), 'utf8'));
      for (const match of text.matchAll(/\bbench\/[a-z_/]+\.(?:ts|py)\b/g)) {
        if (!existsSync(join(ROOT, match[0]))) missing.push(`${path}: ${match[0]}`);
      }
    }
    expect(missing).toEqual([]);
  });
});
