/**
 * `Sum` and `Mean` of a float32 tensor over its leading axes (per-channel sums: batch norm's
 * statistics, conv and dense biases' gradients) as the column sums of an `[R, C]` matrix, read
 * once in memory order over the wasm heap. The stock kernel first transposes the reduced axes
 * innermost, a full copy of the tensor. Sums accumulate in float64, so they are also more exact
 * than the stock kernel's running float32 sum over tens of thousands of rows.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';

import type { KernelArgs, ReductionAttrs } from '../../registry.js';
import type { Route } from '../../routes.js';
import { asHeapBackend, f32, hasHeapAccess, type WasmHeapBackend } from './heap.js';

/** A reduction over the leading axes: the tensor as `rows x cols`, and the output's shape. */
export interface LeadingAxesPlan {
  readonly rows: number;
  readonly cols: number;
  readonly outShape: number[];
}

/** Number of leading axes when `axes` is exactly 0..k-1 with 0 < k < rank, else 0. */
function leadingAxes(axes: readonly number[], rank: number): number {
  const sorted = axes.map((a) => (a < 0 ? a + rank : a)).sort((a, b) => a - b);
  const k = sorted.length;
  if (k === 0 || k >= rank || sorted.some((a, i) => a !== i)) return 0;
  return k;
}

/** The plan of reducing float32 `x` over `axis`, or `undefined` unless those are its non-empty leading axes. */
export function leadingAxesPlan(
  x: TensorInfo,
  axis: number | number[],
  keepDims: boolean,
): LeadingAxesPlan | undefined {
  if (x.dtype !== 'float32') return undefined;
  const k = leadingAxes(Array.isArray(axis) ? axis : [axis], x.shape.length);
  if (k === 0) return undefined;
  const rows = x.shape.slice(0, k).reduce((a, b) => a * b, 1);
  const cols = x.shape.slice(k).reduce((a, b) => a * b, 1);
  if (rows === 0 || cols === 0) return undefined;
  return { rows, cols, outShape: keepDims ? x.shape.map((d, i) => (i < k ? 1 : d)) : x.shape.slice(k) };
}

/** The column sums (with `mean`, the column means) of `x` as `plan` views it. */
export function leadingAxesReduce(
  backend: WasmHeapBackend,
  x: TensorInfo,
  plan: LeadingAxesPlan,
  mean: boolean,
): TensorInfo {
  const { rows, cols } = plan;
  const out = backend.makeOutput(plan.outShape, 'float32');
  const src = f32(backend, x);
  const dst = f32(backend, out);
  const acc = new Float64Array(cols);
  let r = 0;
  let offset = 0;
  // Eight rows per pass: one accumulator load/store per eight additions. V8 does not keep acc[c]
  // in a register across a one-row loop, and a one-row loop ran several times slower.
  const c1 = cols,
    c2 = 2 * cols,
    c3 = 3 * cols,
    c4 = 4 * cols,
    c5 = 5 * cols,
    c6 = 6 * cols,
    c7 = 7 * cols;
  for (; r + 8 <= rows; r += 8, offset += 8 * cols) {
    for (let c = 0; c < cols; c++) {
      const p = offset + c;
      const s =
        (src[p] as number) +
        (src[p + c1] as number) +
        ((src[p + c2] as number) + (src[p + c3] as number)) +
        ((src[p + c4] as number) + (src[p + c5] as number) + ((src[p + c6] as number) + (src[p + c7] as number)));
      acc[c] = (acc[c] as number) + s;
    }
  }
  for (; r < rows; r++, offset += cols) {
    for (let c = 0; c < cols; c++) acc[c] = (acc[c] as number) + (src[offset + c] as number);
  }
  const scale = mean ? 1 / rows : 1;
  for (let c = 0; c < cols; c++) dst[c] = (acc[c] as number) * scale;
  return out;
}

/** What the `leading-axes` routes of ../sum.ts and ../mean.ts read. */
export interface LeadingAxesContext {
  readonly args: KernelArgs;
  readonly x: TensorInfo;
  readonly plan: LeadingAxesPlan | undefined;
}

export function leadingAxesContext(args: KernelArgs): LeadingAxesContext {
  const { x } = args.inputs as { x: TensorInfo };
  const { axis, keepDims } = args.attrs as unknown as ReductionAttrs;
  return { args, x, plan: leadingAxesPlan(x, axis, keepDims) };
}

/** The `leading-axes` route of `Sum` (or, with `mean`, of `Mean`). */
export function leadingAxesRoute(mean: boolean): Route<LeadingAxesContext> {
  return {
    name: 'leading-axes',
    applies: ({ args, plan }) => plan !== undefined && hasHeapAccess(args.backend),
    run: ({ args, x, plan }) => leadingAxesReduce(asHeapBackend(args.backend), x, plan!, mean),
  };
}
