/**
 * Every cpu kernel of this package, one module each, each opening with its ordered route table:
 *
 * | kernel                       | install | routes, in order   |
 * | ---------------------------- | ------- | ------------------ |
 * | `Conv2D`                     | replace | im2col-gemm, stock |
 * | `FusedConv2D`                | replace | im2col-gemm, stock |
 * | `Conv2DBackpropFilter`       | replace | im2col-gemm, stock |
 * | `Conv2DBackpropInput`        | replace | gemm-col2im, stock |
 * | `BatchMatMul`                | replace | gemm, stock        |
 * | `_FusedMatMul`               | replace | gemm, stock        |
 * | `DigitBatchNormTraining`     | add     | arrays             |
 * | `DigitBatchNormTrainingGrad` | add     | arrays             |
 *
 * `replace`: in place of the stock kernel, kept as the `stock` route; `add`: stock cpu has none.
 * Helpers, in ./helpers/: the backend's arrays (backend.ts), the cache-blocked GEMM (gemm.ts),
 * convolutions as GEMMs (conv_gemm.ts), in-place bias and activation (bias_activation.ts).
 * test/kernel_routes.test.ts checks this table against the modules.
 */
import { addKernel, replaceKernel } from '../registry.js';
import type { RoutedKernel } from '../routes.js';
import { batchMatMulKernel } from './batch_mat_mul.js';
import { batchNormTrainingGradKernel } from './batch_norm_training_grad.js';
import { batchNormTrainingKernel } from './batch_norm_training.js';
import { conv2DKernel } from './conv2d.js';
import { conv2DBackpropFilterKernel } from './conv2d_backprop_filter.js';
import { conv2DBackpropInputKernel } from './conv2d_backprop_input.js';
import { fusedConv2DKernel } from './fused_conv2d.js';
import { fusedMatMulKernel } from './fused_mat_mul.js';

/** The cpu kernels, in registration order. */
export const cpuKernels: readonly RoutedKernel[] = [
  conv2DKernel,
  fusedConv2DKernel,
  conv2DBackpropFilterKernel,
  conv2DBackpropInputKernel,
  batchMatMulKernel,
  fusedMatMulKernel,
  batchNormTrainingKernel,
  batchNormTrainingGradKernel,
];

/** Registers every kernel of {@link cpuKernels} with tfjs-core (idempotent; see ../cpu_training.ts). */
export function registerAllCpuKernels(): void {
  for (const { kernelName, install, kernelFunc } of cpuKernels) {
    if (install === 'add') addKernel('cpu', kernelName, kernelFunc);
    else replaceKernel('cpu', kernelName, kernelFunc);
  }
}
