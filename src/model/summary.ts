import type * as tfl from '@tensorflow/tfjs-layers';
import { buildDigitCnn } from './build.js';
import { digitArchitectures } from './architectures.js';

/** Size and cost of one architecture, for choosing between them. */
export interface DigitArchitectureSummary {
  readonly name: string;
  readonly description: string;
  /** Trainable and non-trainable parameters. */
  readonly params: number;
  /** Multiply-adds x 2 of one forward pass over one image (convolutions and dense layers). */
  readonly flopsPerImage: number;
}

/** Forward FLOPs of one image through `model`: 2 x multiply-adds of its convolution and dense layers. */
export function countFlops(model: tfl.LayersModel): number {
  let flops = 0;
  for (const layer of model.layers) {
    const className = layer.getClassName();
    const out = layer.outputShape as (number | null)[];
    const weights = layer.getWeights();
    const kernel = weights[0];
    if (kernel === undefined) continue;
    if (className === 'Conv2D') {
      const [kh, kw, cin, cout] = kernel.shape as [number, number, number, number];
      const [, oh, ow] = out as [null, number, number, number];
      flops += 2 * oh * ow * cout * kh * kw * cin;
    } else if (className === 'Dense') {
      const [inputs, units] = kernel.shape as [number, number];
      flops += 2 * inputs * units;
    }
  }
  return flops;
}

/** Lists every registered architecture with its parameter count and forward FLOPs per image. */
export function summarizeDigitArchitectures(): DigitArchitectureSummary[] {
  return digitArchitectures().map((architecture) => {
    const model = buildDigitCnn({ architecture, compile: false });
    try {
      return {
        name: architecture.name,
        description: architecture.description,
        params: model.countParams(),
        flopsPerImage: countFlops(model),
      };
    } finally {
      model.dispose();
    }
  });
}
