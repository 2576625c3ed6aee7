/**
 * tfjs' Adam, with each variable's step as one `DigitAdam` kernel where the backend has it (this
 * package registers it for wasm: ../kernels/wasm/adam.ts) instead of a dozen elementwise kernels.
 * The same update, moments, bias corrections, weights and config: it saves and loads as `Adam`,
 * and on any other backend it is tfjs' optimizer unchanged.
 */
import * as tf from '@tensorflow/tfjs-core';

/** What `applyGradients` takes (tfjs-core does not export the types by name). */
type VariableGradients = Parameters<tf.AdamOptimizer['applyGradients']>[0];
type NamedGradient = Extract<VariableGradients, unknown[]>[number];

/** tfjs' AdamOptimizer's private state, which this subclass keeps exactly as the parent does. */
interface AdamInternals {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: { originalName: string; variable: tf.Variable }[];
  accumulatedSecondMoment: { originalName: string; variable: tf.Variable }[];
}

export class DigitAdamOptimizer extends tf.AdamOptimizer {
  /** Saves as tfjs' Adam, and a saved Adam loads as tfjs' own. */
  static override get className(): string {
    return 'Adam';
  }

  override applyGradients(variableGradients: VariableGradients): void {
    if (tf.getKernel('DigitAdam', tf.getBackend()) === undefined) {
      super.applyGradients(variableGradients);
      return;
    }
    const self = this as unknown as AdamInternals;
    const list: NamedGradient[] | undefined = Array.isArray(variableGradients) ? variableGradients : undefined;
    const names = list !== undefined ? list.map((v) => v.name) : Object.keys(variableGradients);
    const [c1, c2] = [self.accBeta1, self.accBeta2].map((acc) => 1 - (acc.dataSync()[0] as number)) as [number, number];
    // The attributes of DigitAdam (../kernels/wasm/adam.ts).
    const attrs: tf.NamedAttrMap = {
      learningRate: self.learningRate,
      beta1: self.beta1,
      beta2: self.beta2,
      epsilon: self.epsilon,
      c1,
      c2,
    };
    tf.tidy(() => {
      names.forEach((name, i) => {
        const value = tf.engine().registeredVariables[name];
        if (value === undefined) return;
        // The moments are created as tfjs' Adam creates them, under the same names.
        self.accumulatedFirstMoment[i] ??= {
          originalName: `${name}/m`,
          variable: tf.tidy(() => tf.zerosLike(value).variable(false)),
        };
        self.accumulatedSecondMoment[i] ??= {
          originalName: `${name}/v`,
          variable: tf.tidy(() => tf.zerosLike(value).variable(false)),
        };
        const gradient = list !== undefined ? list[i]?.tensor : (variableGradients as Record<string, tf.Tensor>)[name];
        if (gradient == null) return;
        const m = self.accumulatedFirstMoment[i]!.variable;
        const v = self.accumulatedSecondMoment[i]!.variable;
        const [x2, m2, v2] = tf.engine().runKernel('DigitAdam', { x: value, m, v, g: gradient }, attrs) as tf.Tensor[];
        m.assign(m2!);
        v.assign(v2!);
        value.assign(x2!);
      });
      self.accBeta1.assign(tf.mul(self.accBeta1, self.beta1));
      self.accBeta2.assign(tf.mul(self.accBeta2, self.beta2));
    });
    this.incrementIterations();
  }
}

/** Adam as `tf.train.adam(learningRate)` makes it (β₁ 0.9, β₂ 0.999, the backend's ε), one kernel per variable on wasm. */
export function digitAdam(learningRate: number): DigitAdamOptimizer {
  return new DigitAdamOptimizer(learningRate, 0.9, 0.999);
}
