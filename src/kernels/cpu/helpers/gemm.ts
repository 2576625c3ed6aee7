/**
 * A packed, cache-blocked matrix product on Float32Arrays for the cpu backend's kernels:
 * {@link gemm}, C[m, n] += A[m, k] · B[k, n], operands read through (row, column) strides, so
 * transposed operands cost nothing extra in the inner loop. It replaces the stock kernels' naive
 * nested loops (bench/kernels/cpu.ts compares them).
 */

/**
 * Register tile. A 4x4 tile keeps 16 accumulators in locals, which V8 holds in registers (as doubles:
 * Float32Array loads widen to float64, so sums are float64 within a K block). Of the tiles tried
 * (2x4, 4x2, 4x4, 6x4, 4x8) none was clearly faster in L1, and packing into Float64Array gained
 * little for twice the pack buffers, so 4x4 on Float32Array it is (bench/kernels/cpu.ts times the kernels).
 */
export const MR = 4;
const NR = 4;
/**
 * Cache blocks (GotoBLAS order jc → pc → ic → jr → ir): a KC x NR panel of packed B (4 KB) stays in
 * L1 while MC x KC of packed A (128 KB) streams from L2; KC x NC of packed B is at most 512 KB, within
 * a core's L2 on current desktop and laptop CPUs. Packing also turns the strided reads of transposed operands into one
 * sequential pass, so `transposeA`/`transposeB` cost nothing extra in the inner loop.
 */
const KC = 256;
const MC = 128;
const NC = 512;

const aPack = new Float32Array(MC * KC);
const bPack = new Float32Array(KC * NC);
const edgeTile = new Float32Array(MR * NR);

/**
 * Packs `count` x `kc` of a strided matrix into 4-wide panels, each kc x 4, zero-padded to whole
 * panels: `along` is the stride between the panel's 4 lanes, `depth` the stride along k.
 * A's rows (MR = 4) and B's columns (NR = 4) pack the same way with their strides swapped.
 */
function packPanels(
  out: Float32Array,
  count: number,
  kc: number,
  src: Float32Array,
  off: number,
  along: number,
  depth: number,
): void {
  let o = 0;
  for (let i0 = 0; i0 < count; i0 += 4) {
    const lanes = Math.min(4, count - i0);
    if (lanes === 4) {
      const l0 = off + i0 * along;
      for (let p = 0; p < kc; p++) {
        const base = l0 + p * depth;
        out[o] = src[base] as number;
        out[o + 1] = src[base + along] as number;
        out[o + 2] = src[base + 2 * along] as number;
        out[o + 3] = src[base + 3 * along] as number;
        o += 4;
      }
    } else {
      for (let p = 0; p < kc; p++) {
        for (let i = 0; i < 4; i++) out[o + i] = i < lanes ? (src[off + (i0 + i) * along + p * depth] as number) : 0;
        o += 4;
      }
    }
  }
}

/** C[ci.., 4x4] += Ap panel · Bp panel over kc. */
function micro4x4(
  kc: number,
  ap: Float32Array,
  ai: number,
  bp: Float32Array,
  bi: number,
  c: Float32Array,
  ci: number,
  ldc: number,
): void {
  let c00 = 0,
    c01 = 0,
    c02 = 0,
    c03 = 0;
  let c10 = 0,
    c11 = 0,
    c12 = 0,
    c13 = 0;
  let c20 = 0,
    c21 = 0,
    c22 = 0,
    c23 = 0;
  let c30 = 0,
    c31 = 0,
    c32 = 0,
    c33 = 0;
  for (let p = 0; p < kc; p++) {
    const b0 = bp[bi] as number;
    const b1 = bp[bi + 1] as number;
    const b2 = bp[bi + 2] as number;
    const b3 = bp[bi + 3] as number;
    const a0 = ap[ai] as number;
    c00 += a0 * b0;
    c01 += a0 * b1;
    c02 += a0 * b2;
    c03 += a0 * b3;
    const a1 = ap[ai + 1] as number;
    c10 += a1 * b0;
    c11 += a1 * b1;
    c12 += a1 * b2;
    c13 += a1 * b3;
    const a2 = ap[ai + 2] as number;
    c20 += a2 * b0;
    c21 += a2 * b1;
    c22 += a2 * b2;
    c23 += a2 * b3;
    const a3 = ap[ai + 3] as number;
    c30 += a3 * b0;
    c31 += a3 * b1;
    c32 += a3 * b2;
    c33 += a3 * b3;
    ai += MR;
    bi += NR;
  }
  let r = ci;
  c[r] = (c[r] as number) + c00;
  c[r + 1] = (c[r + 1] as number) + c01;
  c[r + 2] = (c[r + 2] as number) + c02;
  c[r + 3] = (c[r + 3] as number) + c03;
  r += ldc;
  c[r] = (c[r] as number) + c10;
  c[r + 1] = (c[r + 1] as number) + c11;
  c[r + 2] = (c[r + 2] as number) + c12;
  c[r + 3] = (c[r + 3] as number) + c13;
  r += ldc;
  c[r] = (c[r] as number) + c20;
  c[r + 1] = (c[r + 1] as number) + c21;
  c[r + 2] = (c[r + 2] as number) + c22;
  c[r + 3] = (c[r + 3] as number) + c23;
  r += ldc;
  c[r] = (c[r] as number) + c30;
  c[r + 1] = (c[r + 1] as number) + c31;
  c[r + 2] = (c[r + 2] as number) + c32;
  c[r + 3] = (c[r + 3] as number) + c33;
}

/**
 * C[cOff + i·ldc + j] += Σ_p A(i, p) · B(p, j) for i < m, j < n, where A(i, p) = a[aOff + i·ars + p·acs]
 * and B(p, j) = b[bOff + p·brs + j·bcs]. Accumulates: callers zero C when they want a plain product.
 */
export function gemm(
  m: number,
  n: number,
  k: number,
  a: Float32Array,
  aOff: number,
  ars: number,
  acs: number,
  b: Float32Array,
  bOff: number,
  brs: number,
  bcs: number,
  c: Float32Array,
  cOff: number,
  ldc: number,
): void {
  for (let jc = 0; jc < n; jc += NC) {
    const nc = Math.min(NC, n - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = Math.min(KC, k - pc);
      packPanels(bPack, nc, kc, b, bOff + pc * brs + jc * bcs, bcs, brs);
      for (let ic = 0; ic < m; ic += MC) {
        const mc = Math.min(MC, m - ic);
        packPanels(aPack, mc, kc, a, aOff + ic * ars + pc * acs, ars, acs);
        for (let jr = 0; jr < nc; jr += NR) {
          const nr = Math.min(NR, nc - jr);
          const bi = jr * kc;
          for (let ir = 0; ir < mc; ir += MR) {
            const mr = Math.min(MR, mc - ir);
            const ci = cOff + (ic + ir) * ldc + jc + jr;
            if (mr === MR && nr === NR) {
              micro4x4(kc, aPack, ir * kc, bPack, bi, c, ci, ldc);
            } else {
              // Edge tile: compute the full 4x4 into a scratch tile (the packs are zero-padded), add the valid part.
              edgeTile.fill(0);
              micro4x4(kc, aPack, ir * kc, bPack, bi, edgeTile, 0, NR);
              for (let i = 0; i < mr; i++) {
                for (let j = 0; j < nr; j++)
                  c[ci + i * ldc + j] = (c[ci + i * ldc + j] as number) + (edgeTile[i * NR + j] as number);
              }
            }
          }
        }
      }
    }
  }
}
