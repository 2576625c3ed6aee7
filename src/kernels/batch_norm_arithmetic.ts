/**
 * Batch normalisation in training over flat channels-last Float32Arrays: the arithmetic of the
 * fused kernels (`DigitBatchNormTraining` and its gradient, see ../model/batch_norm.ts) that the
 * cpu and wasm kernel modules register over their own storage (on wasm, for channels that are
 * not a multiple of 4: the others take native/batch_norm.c, ./wasm/helpers/batch_norm_simd.ts). Two passes over the tensor
 * forward (statistics, then normalise) and two backward (the two channel sums, then dx), where
 * the autodiffed composite reads it about twenty times.
 *
 * Sums accumulate in float64. Rows are taken four at a time for the same reason as in
 * ./wasm/helpers/leading_axes.ts' column sums: V8 does not keep a Float64Array element in a register across a
 * one-row inner loop, so each row costs a load and a store per accumulator.
 */

/**
 * Per-channel mean and biased variance of `x` (`rows x channels`), then
 * `y = (x - mean) * gamma / sqrt(variance + epsilon) + beta`.
 */
export function batchNormForward(
  x: Float32Array,
  gamma: Float32Array,
  beta: Float32Array,
  epsilon: number,
  y: Float32Array,
  mean: Float32Array,
  variance: Float32Array,
): void {
  const channels = gamma.length;
  const rows = x.length / channels;
  // Sums of x - x[first row] rather than of x: the variance as E[d²] - E[d]² then loses no digits when a channel's mean is far from zero.
  const shift = Float64Array.from(x.subarray(0, channels));
  const s = new Float64Array(channels);
  const q = new Float64Array(channels);
  const c1 = channels,
    c2 = 2 * channels,
    c3 = 3 * channels;
  let r = 0;
  let p = 0;
  for (; r + 4 <= rows; r += 4, p += 4 * channels) {
    for (let c = 0; c < channels; c++) {
      const k = shift[c] as number;
      const i = p + c;
      const a = (x[i] as number) - k,
        b = (x[i + c1] as number) - k,
        d = (x[i + c2] as number) - k,
        e = (x[i + c3] as number) - k;
      s[c] = (s[c] as number) + (a + b + (d + e));
      q[c] = (q[c] as number) + (a * a + b * b + (d * d + e * e));
    }
  }
  for (; r < rows; r++, p += channels) {
    for (let c = 0; c < channels; c++) {
      const a = (x[p + c] as number) - (shift[c] as number);
      s[c] = (s[c] as number) + a;
      q[c] = (q[c] as number) + a * a;
    }
  }
  const scale = new Float64Array(channels);
  const offset = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    const m = (s[c] as number) / rows;
    const v = Math.max(0, (q[c] as number) / rows - m * m);
    const mu = m + (shift[c] as number);
    mean[c] = mu;
    variance[c] = v;
    scale[c] = (gamma[c] as number) / Math.sqrt(v + epsilon);
    offset[c] = (beta[c] as number) - mu * (scale[c] as number);
  }
  // Four channels per iteration: V8 runs it faster than a one-channel loop (bench/kernels/batch_norm_kernels.ts times the kernels).
  const unrolled = channels % 4 === 0 ? channels : 0;
  for (let i = 0; i < x.length; i += channels) {
    let c = 0;
    for (; c < unrolled; c += 4) {
      const j = i + c;
      y[j] = (x[j] as number) * (scale[c] as number) + (offset[c] as number);
      y[j + 1] = (x[j + 1] as number) * (scale[c + 1] as number) + (offset[c + 1] as number);
      y[j + 2] = (x[j + 2] as number) * (scale[c + 2] as number) + (offset[c + 2] as number);
      y[j + 3] = (x[j + 3] as number) * (scale[c + 3] as number) + (offset[c + 3] as number);
    }
    for (; c < channels; c++) y[i + c] = (x[i + c] as number) * (scale[c] as number) + (offset[c] as number);
  }
}

/**
 * The gradient of {@link batchNormForward} through the batch statistics, with N = rows and
 * x̂ = (x - mean) / sqrt(variance + epsilon):
 * `dbeta = Σ dy`, `dgamma = Σ dy·x̂`, `dx = gamma / sqrt(variance + epsilon) · (dy - dbeta/N - x̂·dgamma/N)`.
 */
export function batchNormBackward(
  dy: Float32Array,
  x: Float32Array,
  gamma: Float32Array,
  mean: Float32Array,
  variance: Float32Array,
  epsilon: number,
  dx: Float32Array,
  dgamma: Float32Array,
  dbeta: Float32Array,
): void {
  const channels = gamma.length;
  const rows = x.length / channels;
  const sdy = new Float64Array(channels);
  const sdyx = new Float64Array(channels); // Σ dy·(x - mean)
  const c1 = channels,
    c2 = 2 * channels,
    c3 = 3 * channels;
  let r = 0;
  let p = 0;
  for (; r + 4 <= rows; r += 4, p += 4 * channels) {
    for (let c = 0; c < channels; c++) {
      const m = mean[c] as number;
      const i = p + c;
      const g0 = dy[i] as number,
        g1 = dy[i + c1] as number,
        g2 = dy[i + c2] as number,
        g3 = dy[i + c3] as number;
      sdy[c] = (sdy[c] as number) + (g0 + g1 + (g2 + g3));
      sdyx[c] =
        (sdyx[c] as number) +
        (g0 * ((x[i] as number) - m) +
          g1 * ((x[i + c1] as number) - m) +
          (g2 * ((x[i + c2] as number) - m) + g3 * ((x[i + c3] as number) - m)));
    }
  }
  for (; r < rows; r++, p += channels) {
    for (let c = 0; c < channels; c++) {
      const g = dy[p + c] as number;
      sdy[c] = (sdy[c] as number) + g;
      sdyx[c] = (sdyx[c] as number) + g * ((x[p + c] as number) - (mean[c] as number));
    }
  }
  // dx = k1·dy + k2·x + k0, coefficients in float64 so that k2·x + k0 = k2·(x - mean) + ... cancels exactly enough.
  const k1 = new Float64Array(channels);
  const k2 = new Float64Array(channels);
  const k0 = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    const inv = 1 / Math.sqrt((variance[c] as number) + epsilon);
    const dg = (sdyx[c] as number) * inv;
    dgamma[c] = dg;
    dbeta[c] = sdy[c] as number;
    const g = (gamma[c] as number) * inv;
    k1[c] = g;
    k2[c] = (-g * inv * dg) / rows;
    k0[c] = (-g * (sdy[c] as number)) / rows - (k2[c] as number) * (mean[c] as number);
  }
  const unrolled = channels % 4 === 0 ? channels : 0; // as in batchNormForward
  for (let i = 0; i < x.length; i += channels) {
    let c = 0;
    for (; c < unrolled; c += 4) {
      const j = i + c;
      dx[j] = (k1[c] as number) * (dy[j] as number) + (k2[c] as number) * (x[j] as number) + (k0[c] as number);
      dx[j + 1] =
        (k1[c + 1] as number) * (dy[j + 1] as number) +
        (k2[c + 1] as number) * (x[j + 1] as number) +
        (k0[c + 1] as number);
      dx[j + 2] =
        (k1[c + 2] as number) * (dy[j + 2] as number) +
        (k2[c + 2] as number) * (x[j + 2] as number) +
        (k0[c + 2] as number);
      dx[j + 3] =
        (k1[c + 3] as number) * (dy[j + 3] as number) +
        (k2[c + 3] as number) * (x[j + 3] as number) +
        (k0[c + 3] as number);
    }
    for (; c < channels; c++) {
      dx[i + c] =
        (k1[c] as number) * (dy[i + c] as number) + (k2[c] as number) * (x[i + c] as number) + (k0[c] as number);
    }
  }
}

/** The channel count of a fused batch norm's `x`, after checking `x` is float32 with `gamma.length` channels last. */
export function checkBatchNormShapes(x: { shape: number[]; dtype: string }, gamma: { shape: number[] }): number {
  const channels = x.shape[x.shape.length - 1] ?? 0;
  if (
    x.dtype !== 'float32' ||
    x.shape.length < 2 ||
    gamma.shape.length !== 1 ||
    gamma.shape[0] !== channels ||
    channels === 0
  ) {
    throw new Error(
      `DigitBatchNormTraining: needs float32 x with channels last matching gamma, got x ${x.dtype} [${x.shape.join(',')}] and gamma [${gamma.shape.join(',')}]`,
    );
  }
  return channels;
}
