/**
 * `DigitAdam` on wasm: one Adam step for one variable in one kernel (added: no backend has it),
 * called by `DigitAdamOptimizer` (../../model/adam.ts) in place of tfjs' ten or so elementwise
 * kernels per variable, each a pass over the heap with a call's overhead (about 60 calls a step
 * for `strong`, a tenth of its step in bench/steps/profile.ts).
 *
 * Inputs x (the variable), m and v (the moments), g (the gradient), all float32 of one size;
 * attributes `learningRate`, `beta1`, `beta2`, `epsilon` and the bias corrections `c1` = 1 − β₁ᵗ,
 * `c2` = 1 − β₂ᵗ; outputs x′, m′, v′:
 *   m′ = β₁ m + (1 − β₁) g,  v′ = β₂ v + (1 − β₂) g²,  x′ = x − lr · (m′ / c1) / (√(v′ / c2) + ε)
 * as tfjs' AdamOptimizer computes them, each product rounded to float32 as its kernels round.
 *
 * Routes, tried in order: the first that applies runs. The `routes` table below is this list;
 * test/kernel_routes.test.ts checks the two agree, and the zoo layers named here.
 *
 * 1. `heap`: one loop over the four arrays on the wasm heap, in TypeScript.
 *    Applies: the wasm heap, four float32 inputs of one size.
 *    Why: the pass is memory-bound and short; one loop instead of a dozen kernel calls, each
 *    allocating an output and walking the whole variable.
 *    Bench: npm run bench -- bench/steps/profile.ts --arch strong (its optimizer phase).
 *    Zoo: none (the optimizer's calls belong to no one layer).
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';

import type { KernelArgs } from '../registry.js';
import { routedKernel } from '../routes.js';
import { asHeapBackend, f32, hasHeapAccess } from './helpers/heap.js';

/** The attributes of `DigitAdam`. */
export interface AdamAttrs {
  readonly learningRate: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  /** 1 − β₁ᵗ and 1 − β₂ᵗ. */
  readonly c1: number;
  readonly c2: number;
}

interface AdamContext {
  readonly args: KernelArgs;
  readonly inputs: readonly [TensorInfo, TensorInfo, TensorInfo, TensorInfo];
  readonly attrs: AdamAttrs;
}

const size = (t: TensorInfo): number => t.shape.reduce((a, b) => a * b, 1);

export const adamKernel = routedKernel<AdamContext>({
  backend: 'wasm',
  kernelName: 'DigitAdam',
  install: 'add',
  context: (args) => {
    const { x, m, v, g } = args.inputs as { x: TensorInfo; m: TensorInfo; v: TensorInfo; g: TensorInfo };
    return { args, inputs: [x, m, v, g], attrs: args.attrs as unknown as AdamAttrs };
  },
  routes: [
    {
      name: 'heap',
      applies: ({ args, inputs }) =>
        hasHeapAccess(args.backend) && inputs.every((t) => t.dtype === 'float32' && size(t) === size(inputs[0])),
      run: ({ args, inputs, attrs }) => {
        const backend = asHeapBackend(args.backend);
        const shape = [...inputs[0].shape];
        const outputs = [0, 1, 2].map(() => backend.makeOutput(shape, 'float32'));
        // Views after the allocations: malloc may grow (and replace) the heap buffer.
        const [x, m, v, g] = inputs.map((t) => f32(backend, t)) as [
          Float32Array,
          Float32Array,
          Float32Array,
          Float32Array,
        ];
        const [x2, m2, v2] = outputs.map((t) => f32(backend, t)) as [Float32Array, Float32Array, Float32Array];
        const f = Math.fround;
        const { beta1, beta2, epsilon } = attrs;
        const [b1, b2, ob1, ob2] = [beta1, beta2, 1 - beta1, 1 - beta2].map(f) as [number, number, number, number];
        const [c1, c2, eps, step] = [attrs.c1, attrs.c2, epsilon, -attrs.learningRate].map(f) as [
          number,
          number,
          number,
          number,
        ];
        for (let i = 0; i < x.length; i++) {
          const gi = g[i]!;
          const mi = f(f(m[i]! * b1) + f(gi * ob1));
          const vi = f(f(v[i]! * b2) + f(f(gi * gi) * ob2));
          m2[i] = mi;
          v2[i] = vi;
          x2[i] = f(f(f(mi / c1) / f(f(Math.sqrt(f(vi / c2))) + eps)) * step) + x[i]!;
        }
        return outputs;
      },
    },
  ],
});
