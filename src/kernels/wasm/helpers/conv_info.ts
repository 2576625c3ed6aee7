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
