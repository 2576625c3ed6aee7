/**
 * Writes native/winograd_transforms.h: the Winograd F(m x m, r x r) transforms
 * (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2015) as
 * straight-line C macros, with zero terms dropped and +-1 terms left unmultiplied.
 * Run by hand (native/build.sh runs it): `npx tsx native/generate.ts`.
 *
 * A^T and G come from the Toom-Cook interpolation points (plus the point at
 * infinity); B^T is then solved for so that y = A^T [(G g) * (B^T d)] is the
 * correlation y_i = sum_k d_{i+k} g_k, and the script refuses to write anything
 * unless that identity holds to 1e-12 for every basis input.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

type Matrix = number[][];

interface Variant {
  m: number;
  r: number;
  points: number[];
}

const VARIANTS: Variant[] = [
  // The usual points with the smallest magnitudes, as Lavin & Gray and wincnn pick them. F(2x2, 5x5)
  // (points 0, +-1, +-2) was measured too: 1.5x faster than direct here, F(4x4, 5x5) 2-2.4x, with
  // float32 errors of 6e-6 vs 8e-6 of the largest output (seed net's conv2, random inputs).
  { m: 4, r: 5, points: [0, 1, -1, 2, -2, 0.5, -0.5] },
  // 3x3 (lean's and strong's stride-1 convolutions): 36 multiplications per 16 outputs instead of 144.
  { m: 4, r: 3, points: [0, 1, -1, 2, -2] },
];

function zeros(rows: number, cols: number): Matrix {
  return Array.from({ length: rows }, () => new Array<number>(cols).fill(0));
}

function transforms({ m, r, points }: Variant): { AT: Matrix; G: Matrix; BT: Matrix } {
  const n = m + r - 1;
  if (points.length !== n - 1) throw new Error(`F(${m},${r}) needs ${n - 1} finite points`);
  const AT = zeros(m, n);
  const G = zeros(n, r);
  for (let j = 0; j < n - 1; j++) {
    const a = points[j] as number;
    let f = 1;
    for (let l = 0; l < n - 1; l++) if (l !== j) f *= a - (points[l] as number);
    for (let i = 0; i < m; i++) (AT[i] as number[])[j] = a ** i;
    for (let k = 0; k < r; k++) (G[j] as number[])[k] = a ** k / f;
  }
  (AT[m - 1] as number[])[n - 1] = 1;
  (G[n - 1] as number[])[r - 1] = 1;

  // Column l of B^T: sum_j AT[i][j] G[j][k] b[j] = [i + k == l] for all i < m, k < r.
  const BT = zeros(n, n);
  for (let l = 0; l < n; l++) {
    const E: Matrix = [];
    const t: number[] = [];
    for (let i = 0; i < m; i++) {
      for (let k = 0; k < r; k++) {
        E.push(Array.from({ length: n }, (_, j) => (AT[i] as number[])[j]! * (G[j] as number[])[k]!));
        t.push(i + k === l ? 1 : 0);
      }
    }
    const b = leastSquares(E, t);
    for (let j = 0; j < n; j++) (BT[j] as number[])[l] = clean(b[j] as number);
  }
  verify(m, r, AT, G, BT);
  return { AT, G, BT };
}

function leastSquares(E: Matrix, t: number[]): number[] {
  const n = (E[0] as number[]).length;
  const M = zeros(n, n + 1);
  for (let a = 0; a < n; a++) {
    for (let b = 0; b < n; b++) (M[a] as number[])[b] = E.reduce((s, row) => s + row[a]! * row[b]!, 0);
    (M[a] as number[])[n] = E.reduce((s, row, q) => s + row[a]! * t[q]!, 0);
  }
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let q = c + 1; q < n; q++) if (Math.abs(M[q]![c]!) > Math.abs(M[p]![c]!)) p = q;
    [M[c], M[p]] = [M[p]!, M[c]!];
    for (let q = 0; q < n; q++) {
      if (q === c) continue;
      const f = M[q]![c]! / M[c]![c]!;
      for (let k = c; k <= n; k++) M[q]![k]! -= f * M[c]![k]!;
    }
  }
  return M.map((row, c) => row[n]! / row[c]!);
}

function clean(v: number): number {
  const rounded = Math.round(v * 1e9) / 1e9;
  return Math.abs(rounded) < 1e-12 ? 0 : rounded;
}

function verify(m: number, r: number, AT: Matrix, G: Matrix, BT: Matrix): void {
  const n = m + r - 1;
  for (let l = 0; l < n; l++) {
    for (let k0 = 0; k0 < r; k0++) {
      const d = Array.from({ length: n }, (_, q) => (q === l ? 1 : 0));
      const g = Array.from({ length: r }, (_, q) => (q === k0 ? 1 : 0));
      const Gg = G.map((row) => row.reduce((s, v, q) => s + v * g[q]!, 0));
      const Bd = BT.map((row) => row.reduce((s, v, q) => s + v * d[q]!, 0));
      for (let i = 0; i < m; i++) {
        const y = AT[i]!.reduce((s, v, j) => s + v * Gg[j]! * Bd[j]!, 0);
        const want = i + k0 === l ? 1 : 0;
        if (Math.abs(y - want) > 1e-12) throw new Error(`F(${m},${r}) fails at d=e${l}, g=e${k0}, i=${i}: ${y}`);
      }
    }
  }
}

function literal(c: number): string {
  const s = Number.isInteger(c) ? `${c}.0` : `${Math.fround(c) === c ? c : c.toPrecision(9)}`;
  return `${s}f`;
}

/** sum_k coef[k] * term(k) as a SIMD expression (or scalar when `scalar`), skipping zeros. */
function linear(coefs: number[], term: (k: number) => string, scalar: boolean): string {
  let expr = '';
  for (let k = 0; k < coefs.length; k++) {
    const c = coefs[k]!;
    if (c === 0) continue;
    const x = term(k);
    const mag = Math.abs(c);
    const scaled =
      mag === 1 ? x : scalar ? `${literal(mag)} * ${x}` : `wasm_f32x4_mul(wasm_f32x4_splat(${literal(mag)}), ${x})`;
    if (expr === '') {
      expr = c < 0 ? (scalar ? `-(${scaled})` : `wasm_f32x4_neg(${scaled})`) : scaled;
    } else if (scalar) {
      expr = `${expr} ${c < 0 ? '-' : '+'} ${scaled}`;
    } else {
      expr = `${c < 0 ? 'wasm_f32x4_sub' : 'wasm_f32x4_add'}(${expr}, ${scaled})`;
    }
  }
  if (expr === '') return scalar ? '0.0f' : 'wasm_f32x4_splat(0.0f)';
  return expr;
}

/** Macro computing OUT(p, L^T X R) for p = i * cols + j, with X read through IN(a, b). */
function sandwich(name: string, L: Matrix, inRows: number, inCols: number, R: Matrix, scalar: boolean): string {
  // L: outRows x inRows, R: outCols x inCols; result[i][j] = sum_{a,b} L[i][a] X[a][b] R[j][b].
  const type = scalar ? 'float' : 'v128_t';
  const lines: string[] = [];
  // Every input is read once into a local: IN may be a load, and stores through OUT could alias it.
  for (let a = 0; a < inRows; a++) {
    for (let b = 0; b < inCols; b++) lines.push(`${type} in_${a}_${b} = IN(${a}, ${b});`);
  }
  for (let i = 0; i < L.length; i++) {
    for (let b = 0; b < inCols; b++) {
      lines.push(`${type} t_${i}_${b} = ${linear(L[i]!, (a) => `in_${a}_${b}`, scalar)};`);
    }
  }
  for (let i = 0; i < L.length; i++) {
    for (let j = 0; j < R.length; j++) {
      lines.push(`OUT(${i}, ${j}, ${linear(R[j]!, (b) => `t_${i}_${b}`, scalar)});`);
    }
  }
  return `#define ${name}(IN, OUT) do { \\\n  ${lines.join(' \\\n  ')} \\\n} while (0)\n`;
}

const out: string[] = [
  '/* Generated by native/generate.ts: Winograd transforms as straight-line macros. Do not edit. */',
  '',
];
for (const v of VARIANTS) {
  const { m, r } = v;
  const n = m + r - 1;
  const { AT, G, BT } = transforms(v);
  const tag = `F${m}_${r}`;
  out.push(`/* F(${m}x${m}, ${r}x${r}): tiles of ${n}x${n} inputs, points ${v.points.join(', ')} and infinity. */`);
  out.push(`#define ${tag}_M ${m}`, `#define ${tag}_R ${r}`, `#define ${tag}_N ${n}`, '');
  out.push(`/* V = B^T d B: IN(a, b) is d[a][b]; OUT(i, j, v) receives V[i][j]. */`);
  out.push(sandwich(`${tag}_INPUT`, BT, n, n, BT, false));
  out.push(`/* U = G g G^T (scalar): IN(a, b) is g[a][b]; OUT(i, j, u) receives U[i][j]. */`);
  out.push(
    sandwich(
      `${tag}_FILTER`,
      G.map((row) => row),
      r,
      r,
      G,
      true,
    ),
  );
  out.push(`/* Y = A^T M A: IN(a, b) is M[a][b]; OUT(i, j, y) receives Y[i][j]. */`);
  out.push(sandwich(`${tag}_OUTPUT`, AT, n, n, AT, false));

  // The filter gradient correlates x with dy: F(r x r, m x m) on the same points, dy tiles as its
  // "filters". Its input transform must be this one (asserted), so x is transformed by ${tag}_INPUT.
  const dual = transforms({ m: r, r: m, points: v.points });
  if (dual.BT.some((row, i) => row.some((c, j) => c !== BT[i]![j])))
    throw new Error(`F(${r},${m}) needs another input transform`);
  out.push(
    `/* Filter gradient, F(${r}x${r}, ${m}x${m}). D = G' dy G'^T: IN(a, b) is dy[a][b] (${m}x${m}); OUT(i, j, v) receives D[i][j]. */`,
  );
  out.push(sandwich(`${tag}_GRAD_DY`, dual.G, m, m, dual.G, false));
  out.push(`/* dW = A'^T S A' (scalar): IN(a, b) is S[a][b]; OUT(i, j, w) receives dW[i][j] (${r}x${r}). */`);
  out.push(sandwich(`${tag}_GRAD_OUTPUT`, dual.AT, n, n, dual.AT, true));
}
writeFileSync(fileURLToPath(new URL('./winograd_transforms.h', import.meta.url)), out.join('\n'));
