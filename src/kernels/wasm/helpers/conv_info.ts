/** The geometry of a convolution gradient's call, as tfjs' `backend_util` computes it. */
import { backend_util } from '@tensorflow/tfjs-core';

import type { BackpropAttrs, Shape4D } from '../../registry.js';

export function as4D(shape: number[]): Shape4D {
  if (shape.length !== 4)
    throw new Error(`wasm training kernels: expected a rank-4 tensor, got shape [${shape.join(', ')}]`);
  return shape as Shape4D;
}

/** The `Conv2DInfo` of the forward convolution whose gradient a backprop kernel computes. */
export function backpropConvInfo(xShape: Shape4D, filterShape: Shape4D, attrs: BackpropAttrs): backend_util.Conv2DInfo {
  const dataFormat = backend_util.convertConv2DDataFormat(attrs.dataFormat);
  // Gradients of conv2d with dilations > 1 are refused by tfjs-core itself, so dilation is 1 here.
  return backend_util.computeConv2DInfo(
    xShape,
    filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    dataFormat,
  );
}

/** A convolution's geometry as the package's C takes it (native/outer_products.c, native/node/addon.c): batch, inH, inW, inC, outH, outW, outC, kH, kW, strideH, strideW, padTop, padLeft. */
export type ConvGeometry = [
  batch: number,
  inHeight: number,
  inWidth: number,
  inChannels: number,
  outHeight: number,
  outWidth: number,
  outChannels: number,
  filterHeight: number,
  filterWidth: number,
  strideHeight: number,
  strideWidth: number,
  padTop: number,
  padLeft: number,
];

export function convGeometry(info: backend_util.Conv2DInfo): ConvGeometry {
  return [
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.outHeight,
    info.outWidth,
    info.outChannels,
    info.filterHeight,
    info.filterWidth,
    info.strideHeight,
    info.strideWidth,
    info.padInfo.top,
    info.padInfo.left,
  ];
}
