/**
 * `BatchMatMul` on wasm, replacing the stock kernel. The stock kernel runs XNNPACK only without
 * transpose flags and a plain loop otherwise, and training flags them: a dense layer's gradients
 * are dy·Wᵀ and xᵀ·dy.
 *
 * Routes, tried in order: the first that applies (and pays) runs. The `routes` table below is
 * this list; test/kernel_routes.test.ts checks the two agree, and the zoo layers named here.
 *
 * 1. `native`: the Node addon (native/node/ops.c `matmul`), ./helpers/addon.ts: the right
 *    operand packed, a transposed left one transposed first, row tiles and column panels split
 *    between the threads.
 *    Applies: float32, equal leading axes or one side without batches, and the addon loaded.
 *    Why: AVX2/AVX-512 on every core, any transpose flags, no Transpose kernels around it.
 *    Bench: npm run bench -- bench/kernels/native.ts.
 *    Zoo: every dense layer of every network wherever the addon loads (the tables of
 *    test/kernel_routes.test.ts list the routes with it off).
 * 2. `swapped-product`: a·bᵀ computed as (b·aᵀ)ᵀ, aᵀ and the result transposed by wasm's Transpose.
 *    Applies: transposeB without transposeA, operands of one rank without batches (leading axes of 1).
 *    Pays: a has at most a quarter of b's rows (a short a: a dense layer's dy against its W).
 *    Why: XNNPACK packs its right operand on every call and streams it once per row block of the
 *    left one, so a big Wᵀ on the right is slow; (b·aᵀ)ᵀ keeps W on the left, unchanged, and puts
 *    only the small aᵀ on the right.
 *    Bench: npm run bench -- bench/kernels/seed_kernels.ts.
 *    Zoo: seed dense1 (dx); compact dense1 (dx); lean dense1 (dx).
 * 3. `transpose-first`: the flagged operands transposed by wasm's Transpose, then the stock kernel.
 *    Applies: transposeA or transposeB.
 *    Why: the transposes are cheap copies, after which the product runs on XNNPACK instead of the
 *    stock kernel's plain loop.
 *    Bench: npm run bench -- bench/kernels/seed_kernels.ts.
 *    Zoo: seed dense1 (dW), dense2 (dx, dW); compact dense1 (dW), dense2 (dx, dW); lean dense1 (dW);
 *    strong dense1 (dx, dW: at batch 64 its 128 inputs are too few for `swapped-product`).
 * 4. `stock`: tfjs' kernel, XNNPACK for unflagged products. Applies: always.
 *    Zoo: seed dense1 (forward); compact dense1 (forward). The other dense layers' forward passes
 *    run as `_FusedMatMul`, which stays stock on wasm.
 *
 * Our convolution routes call {@link plainMatMul} for their products (Winograd's forward and input-gradient ones, dy·Wᵀ's), so
 * those take this table too.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';

import { firstOutput, runStock, type KernelArgs, type MatMulAttrs } from '../registry.js';
import { routedKernel, stockRoute, type Route } from '../routes.js';
import { addonFor, addonMatMul, addonMatMulShape } from './helpers/addon.js';
import { KernelRunner } from './helpers/kernel_runner.js';
import { asNativeBackend } from './helpers/native.js';
import type { MatMul } from './helpers/winograd.js';

interface MatMulContext {
  readonly args: KernelArgs;
  readonly a: TensorInfo;
  readonly b: TensorInfo;
  readonly transposeA: boolean;
  readonly transposeB: boolean;
}

const unbatched = (t: TensorInfo): boolean => t.shape.slice(0, -2).every((d) => d === 1);

/** The stock product of `a` and `b` with the flags cleared. */
function stockProduct(ctx: MatMulContext, a: TensorInfo, b: TensorInfo): TensorInfo {
  const attrs = { ...ctx.args.attrs, transposeA: false, transposeB: false };
  return firstOutput(runStock('wasm', 'BatchMatMul', { inputs: { a, b }, backend: ctx.args.backend, attrs }));
}

function swapLastTwo(runner: KernelRunner, t: TensorInfo): TensorInfo {
  const perm = t.shape.map((_, i) => i);
  const last = perm.length - 1;
  [perm[last - 1], perm[last]] = [last, last - 1];
  return runner.run('Transpose', { x: t }, { perm });
}

const routes: Route<MatMulContext>[] = [
  {
    name: 'native',
    applies: ({ args, a, b, transposeA, transposeB }) =>
      addonMatMulShape(a, b, transposeA, transposeB) !== undefined && addonFor(args.backend) !== undefined,
    run: ({ args, a, b, transposeA, transposeB }) =>
      addonMatMul(
        addonFor(args.backend)!,
        asNativeBackend(args.backend),
        a,
        b,
        transposeA,
        transposeB,
        addonMatMulShape(a, b, transposeA, transposeB)!,
      ),
  },
  {
    name: 'swapped-product',
    applies: ({ a, b, transposeA, transposeB }) =>
      transposeB && !transposeA && a.shape.length === b.shape.length && unbatched(a) && unbatched(b),
    pays: ({ a, b }) => 4 * (a.shape[a.shape.length - 2] as number) <= (b.shape[b.shape.length - 2] as number),
    run: (ctx) =>
      KernelRunner.guard(ctx.args.backend, (runner) => {
        const bAT = runner.own(stockProduct(ctx, ctx.b, swapLastTwo(runner, ctx.a)));
        return runner.finish(swapLastTwo(runner, bAT));
      }),
  },
  {
    name: 'transpose-first',
    applies: ({ transposeA, transposeB }) => transposeA || transposeB,
    run: (ctx) =>
      KernelRunner.guard(ctx.args.backend, (runner) => {
        const a = ctx.transposeA ? swapLastTwo(runner, ctx.a) : ctx.a;
        const b = ctx.transposeB ? swapLastTwo(runner, ctx.b) : ctx.b;
        const out = stockProduct(ctx, a, b);
        runner.dispose();
        return out;
      }),
  },
  stockRoute('wasm', 'BatchMatMul'),
];

export const batchMatMulKernel = routedKernel<MatMulContext>({
  backend: 'wasm',
  kernelName: 'BatchMatMul',
  install: 'replace',
  context: (args) => {
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const { transposeA, transposeB } = args.attrs as MatMulAttrs;
    return { args, a, b, transposeA: transposeA === true, transposeB: transposeB === true };
  },
  routes,
});

/** A 2-D product on the backend through this kernel's routes, as Winograd and dy·Wᵀ + col2im need. */
export function plainMatMul(backend: unknown): MatMul {
  return (a, b, transposeA) =>
    firstOutput(
      batchMatMulKernel.kernelFunc({
        inputs: { a, b },
        backend: backend as object,
        attrs: { transposeA, transposeB: false },
      }),
    );
}
