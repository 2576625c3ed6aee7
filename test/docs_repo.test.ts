import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

// The docs' blocks fenced `ts repo` are for the repository's own tests and benches (they import
// src/ by path, as those do); they are type-checked here against the source, as test/package.test.ts
// checks the plain `ts` blocks against the packed package.
const ROOT = resolve(import.meta.dirname, '..');
const DIR = join(ROOT, 'test/.artifacts/docs-repo');

describe('repository-only code blocks in the docs', () => {
  it('type-check against the source tree', () => {
    rmSync(DIR, { recursive: true, force: true });
    mkdirSync(DIR, { recursive: true });
    const names: string[] = [];
    for (const doc of [
      'README.md',
      ...readdirSync(join(ROOT, 'docs'))
        .filter((f) => f.endsWith('.md'))
        .map((f) => `docs/${f}`),
    ]) {
      for (const m of readFileSync(join(ROOT, doc), 'utf8').matchAll(/^```ts repo\n([\s\S]*?)^```$/gm)) {
        const name = `block_${names.length}.ts`;
        // The blocks are written as from test/ or bench/: one folder below the root.
        writeFileSync(join(DIR, name), `${m[1]!.replaceAll("'../src/", "'../../../src/")}\nexport {};\n`);
        names.push(`${name} (${doc})`);
      }
    }
    expect(names.length).toBeGreaterThan(0);
    writeFileSync(
      join(DIR, 'tsconfig.json'),
      JSON.stringify({ extends: '../../../tsconfig.json', compilerOptions: { noEmit: true }, include: ['*.ts'] }),
    );
    let output = '';
    try {
      execFileSync(join(ROOT, 'node_modules/.bin/tsc'), ['-p', join(DIR, 'tsconfig.json')], { encoding: 'utf8' });
    } catch (error) {
      output = String((error as { stdout?: string }).stdout);
    }
    expect(output.replace(/block_(\d+)\.ts/g, (_, i: string) => names[Number(i)]!)).toBe('');
  });
});
