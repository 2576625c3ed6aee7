/**
 * Both gradients of a convolution over a one-channel input (every first layer of the zoo) on the
 * wasm backend by native/single_channel_conv.c: WebAssembly SIMD, four output channels per
 * vector, on tfjs' heap, split between the threads of ./pool.ts where there are several (over
 * rows of dx, and over taps and channels of dW). The filter gradient sums in float64 across rows. The `one-channel-simd`
 * routes of ../conv2d_backprop_filter.ts and ../conv2d_backprop_input.ts check the shapes (one
 * input channel, output channels in fours, NHWC, float32) and the module before calling these.
 */
import type { TensorInfo, backend_util } from '@tensorflow/tfjs-core';

import { convGeometry } from './conv_info.js';
import { heapPointer, runNative, withScratch, type NativeBackend } from './native.js';

/** The shared convolution geometry less its input channels (always 1 here), as the C functions take it. */
function geometry(info: backend_util.Conv2DInfo): number[] {
  const [batch, h, w, , ...rest] = convGeometry(info);
  return [batch, h, w, ...rest];
}

/** `dW` `[KH,KW,1,Co]` of a one-channel convolution. */
export function conv2DBackpropFilterSingleChannelSimd(
  backend: NativeBackend,
  x: TensorInfo,
  dy: TensorInfo,
  info: backend_util.Conv2DInfo,
): TensorInfo {
  const { filterHeight: kh, filterWidth: kw, outChannels: co } = info;
  const dW = backend.makeOutput([kh, kw, 1, co], 'float32');
  // Its float64 totals: 2 floats each. Items: taps x groups of 32 channels; each chunk rereads the
  // batch, so one chunk per thread.
  withScratch(backend, 2 * kh * kw * co, (scratch) =>
    runNative(backend, {
      fn: 'conv_c1_filter_grad',
      args: [heapPointer(backend, x), heapPointer(backend, dy), ...geometry(info), scratch, heapPointer(backend, dW)],
      items: kh * kw * Math.ceil(co / 32),
      chunks: 'threads',
    }),
  );
  return dW;
}

/** `dx` `[B,H,W,1]` of a one-channel convolution. */
export function conv2DBackpropInputSingleChannelSimd(
  backend: NativeBackend,
  dy: TensorInfo,
  filter: TensorInfo,
  info: backend_util.Conv2DInfo,
): TensorInfo {
  const dx = backend.makeOutput([info.batchSize, info.inHeight, info.inWidth, 1], 'float32');
  runNative(backend, {
    fn: 'conv_c1_input_grad',
    args: [heapPointer(backend, dy), heapPointer(backend, filter), ...geometry(info), heapPointer(backend, dx)],
    items: info.batchSize * info.inHeight,
    chunks: 'fine',
  });
  return dx;
}

/** Whether the module's one-channel gradients take this convolution: one input channel, output channels in fours, NHWC. */
export function singleChannelConvFits(info: backend_util.Conv2DInfo): boolean {
  return (
    info.inChannels === 1 &&
    info.outChannels % 4 === 0 &&
    info.dataFormat === 'channelsLast' &&
    info.dilationHeight === 1 &&
    info.dilationWidth === 1
  );
}
