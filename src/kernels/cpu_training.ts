/**
 * The package's entry to its training kernels for the TensorFlow.js cpu backend
 * (`@tensorflow/tfjs-backend-cpu`, pure JS). The stock cpu `Conv2D`, `Conv2DBackpropFilter` and
 * `Conv2DBackpropInput` are naive nested loops and `BatchMatMul` a blocked loop with strided inner
 * reads; ./cpu/ re-expresses each as one matrix product on a packed, cache-blocked Float32Array
 * GEMM, one module per kernel (the list, with each kernel's routes: ./cpu/register_all_kernels.ts).
 * NHWC, any stride, valid/same/explicit padding, dilation 1, float32; anything else runs the stock
 * kernel. The kernels read inputs from and write outputs to the cpu backend's own storage through
 * the backend object handed to each kernel, so this package never imports
 * `@tensorflow/tfjs-backend-cpu` itself. bench/kernels/cpu.ts measures them against stock.
 */
import { registerAllCpuKernels } from './cpu/register_all_kernels.js';

/**
 * Registers the cpu training kernels with tfjs-core, replacing the stock cpu `Conv2D`, `FusedConv2D`,
 * `Conv2DBackpropFilter`, `Conv2DBackpropInput`, `BatchMatMul` and `_FusedMatMul` by im2col + a
 * cache-blocked GEMM. Unsupported configurations (NCHW, dilation > 1, non-float32, prelu) run the
 * stock kernels. Also adds the fused training batch norm and its gradient (`DigitBatchNormTraining`,
 * see `batchNormalization`).
 *
 * Idempotent. Call it after importing `@tensorflow/tfjs-backend-cpu`: a kernel is replaced only when
 * its stock version is registered (calling again later installs the rest). This module does not import
 * the cpu backend itself.
 */
export function registerCpuTrainingKernels(): void {
  registerAllCpuKernels();
}
