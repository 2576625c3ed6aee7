/**
 * Every wasm kernel of this package, one module each, each opening with its ordered route table:
 *
 * | kernel                       | install | routes, in order                                                                                                |
 * | ---------------------------- | ------- | --------------------------------------------------------------------------------------------------------------- |
 * | `Conv2D`                     | replace | native, winograd-5x5, winograd-3x3, stock                                                                       |
 * | `FusedConv2D`                | replace | native, winograd-5x5, winograd-3x3, stock                                                                       |
 * | `Conv2DBackpropFilter`       | add     | native, one-channel-simd, winograd-5x5, winograd-3x3, direct-simd, patches-matmul, transposed-conv              |
 * | `DigitBatchNormTraining`     | add     | simd, heap                                                                                                      |
 * | `DigitBatchNormTrainingGrad` | add     | simd, heap                                                                                                      |
 * | `Conv2DBackpropInput`        | replace | native, one-channel-simd, direct-simd, sub-pixel, col2im, winograd-5x5, winograd-3x3, zero-inserted-conv, stock |
 * | `BatchMatMul`                | replace | native, swapped-product, transpose-first, stock                                                                 |
 * | `Tile`                       | replace | broadcast-add, stock                                                                                            |
 * | `Sum`                        | replace | leading-axes, stock                                                                                             |
 * | `Mean`                       | replace | leading-axes, stock                                                                                             |
 * | `MaxPoolGrad`                | replace | simd-2x2, heap, stock                                                                                           |
 * | `Identity`                   | replace | share-buffer, stock                                                                                             |
 * | `FusedBatchNorm`             | replace | native, stock                                                                                                   |
 * | `DigitAdam`                  | add     | heap                                                                                                            |
 *
 * `replace`: in place of the stock kernel, kept as the `stock` route; `add`: stock wasm has none.
 * Helpers, in ./helpers/: the heap (heap.ts) and the routes written over it (leading_axes.ts,
 * max_pool_grad_heap.ts, im2col.ts, sub_pixel.ts, batch_norm_heap.ts); the WebAssembly SIMD module
 * (native.ts, native_binary.ts) and its wrappers (winograd.ts, outer_products.ts, batch_norm_simd.ts,
 * max_pool_simd.ts, single_channel_conv_simd.ts); the Node addon's calls (addon.ts: the `native`
 * routes, which run first wherever ../addon/load.ts loads the addon); calling other kernels (kernel_runner.ts); convolution geometry
 * (conv_info.ts). test/kernel_routes.test.ts checks this table against the modules.
 */
import { addKernel, replaceKernel } from '../registry.js';
import type { RoutedKernel } from '../routes.js';
import { adamKernel } from './adam.js';
import { batchMatMulKernel } from './batch_mat_mul.js';
import { batchNormTrainingGradKernel } from './batch_norm_training_grad.js';
import { batchNormTrainingKernel } from './batch_norm_training.js';
import { conv2DKernel } from './conv2d.js';
import { conv2DBackpropFilterKernel } from './conv2d_backprop_filter.js';
import { conv2DBackpropInputKernel } from './conv2d_backprop_input.js';
import { fusedBatchNormKernel } from './fused_batch_norm.js';
import { fusedConv2DKernel } from './fused_conv2d.js';
import { identityKernel } from './identity.js';
import { maxPoolGradKernel } from './max_pool_grad.js';
import { meanKernel } from './mean.js';
import { sumKernel } from './sum.js';
import { tileKernel } from './tile.js';

/** The wasm kernels, in registration order. */
export const wasmKernels: readonly RoutedKernel[] = [
  conv2DKernel,
  fusedConv2DKernel,
  conv2DBackpropFilterKernel,
  batchNormTrainingKernel,
  batchNormTrainingGradKernel,
  conv2DBackpropInputKernel,
  batchMatMulKernel,
  tileKernel,
  sumKernel,
  meanKernel,
  maxPoolGradKernel,
  identityKernel,
  fusedBatchNormKernel,
  adamKernel,
];

/** Registers every kernel of {@link wasmKernels} with tfjs-core (idempotent; see ../wasm_training.ts). */
export function registerAllWasmKernels(): void {
  for (const { kernelName, install, kernelFunc } of wasmKernels) {
    if (install === 'add') addKernel('wasm', kernelName, kernelFunc);
    else replaceKernel('wasm', kernelName, kernelFunc);
  }
}
