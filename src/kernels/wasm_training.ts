/**
 * The package's entry to its training kernels for the TensorFlow.js wasm backend. Stock
 * `@tensorflow/tfjs-backend-wasm` 4.22 has no `Conv2DBackpropFilter`, so a conv net cannot be
 * trained on it, and its `Conv2DBackpropInput` and transposed `BatchMatMul` are plain loops far
 * below XNNPACK's forward speed. ./wasm/ holds one module per kernel (the list, with each
 * kernel's routes: ./wasm/register_all_kernels.ts); each module opens with its route table: which
 * code computes which call, and why. The kernels are taken from the wasm backend's own registry at
 * call time, so this package never imports `@tensorflow/tfjs-backend-wasm` itself: consumers pick
 * the backend.
 */
import { findBackend } from '@tensorflow/tfjs-core';

import { overrideKernelRoutes } from './routes.js';
import { isNativeBackend, prepareNativeKernels } from './wasm/helpers/native.js';
import { registerAllWasmKernels } from './wasm/register_all_kernels.js';

/** Options of {@link registerWasmTrainingKernels}. */
export interface WasmTrainingKernelOptions {
  /**
   * Run stride-1 convolutions by Winograd F(4x4, 5x5) and F(4x4, 3x3) (./wasm/helpers/winograd.ts):
   * the `winograd-5x5` and `winograd-3x3` routes of the convolution kernels. Default: on; left
   * unchanged when omitted. Results differ from the direct route by float32 rounding only.
   */
  winograd?: boolean;
}

/**
 * Registers the wasm training kernels with tfjs-core:
 * - `Conv2DBackpropFilter` for the wasm backend, which has none (skipped if one is registered);
 * - `Conv2DBackpropInput` replacing the stock plain-loop one;
 * - `BatchMatMul` replacing the stock one, transposing flagged operands first so that the
 *   products of a dense layer's gradient run on XNNPACK;
 * - `Conv2D` and `FusedConv2D` running wide 5x5 and 3x3 stride-1 layers by Winograd;
 * - both convolution gradients of one-channel first layers with output channels in fours in
 *   WebAssembly SIMD;
 * - `Tile` for broadcasts, `Sum`/`Mean` over leading axes and `MaxPoolGrad`, falling back to
 *   stock for other shapes;
 * - `Identity` sharing its input's buffer instead of copying it (the tensors saved for backprop);
 * - the fused training batch norm and its gradient (`DigitBatchNormTraining`, see
 *   `batchNormalization` in ../model/batch_norm.ts).
 *
 * Idempotent. Call it after importing `@tensorflow/tfjs-backend-wasm`: the replacements need
 * the stock kernels and are skipped while those are not registered (calling again later
 * installs them). This module does not import the wasm backend itself.
 */
export function registerWasmTrainingKernels(options: WasmTrainingKernelOptions = {}): void {
  if (options.winograd !== undefined) {
    const mode = options.winograd ? 'auto' : 'off';
    overrideKernelRoutes({ '*': { 'winograd-5x5': mode, 'winograd-3x3': mode } });
  }
  registerAllWasmKernels();
}

/**
 * {@link registerWasmTrainingKernels}, then waits until the SIMD module (Winograd and the other
 * SIMD routes) is compiled for the wasm backend: at once in Node; in a browser compilation is
 * asynchronous, and without this wait the first calls would take the routes after the SIMD ones.
 * trainDigits and predictDigits call it.
 */
export async function readyWasmTrainingKernels(): Promise<void> {
  registerWasmTrainingKernels();
  const backend = findBackend('wasm');
  if (isNativeBackend(backend)) await prepareNativeKernels(backend);
}
