// Linear layer without bias, the operation LLaMA spends nearly all its time in.
//
//   out[t, n] = Σ_k x[t, k] · W[n, k]          (y = x Wᵀ, W stored [N, K] as in nn.Linear)
import { readRow, type WeightTensor } from './tensor.js';

// out: [T, N], x: [T, K], w: [N, K] in any storage type
export function matmul(out: Float32Array, x: Float32Array, w: WeightTensor, T: number): void {
  const N = w.rows;
  const K = w.cols;
  if (w.dtype === 'f32') {
    const W = w.data as Float32Array;
    for (let t = 0; t < T; t++) {
      for (let n = 0; n < N; n++) {
        let sum = 0;
        for (let k = 0; k < K; k++) sum += x[t * K + k] * W[n * K + k];
        out[t * N + n] = sum;
      }
    }
    return;
  }
  // Other storage types: decode one weight row at a time, then the same dot products.
  const row = new Float32Array(K);
  for (let n = 0; n < N; n++) {
    readRow(w, n, row);
    for (let t = 0; t < T; t++) {
      let sum = 0;
      for (let k = 0; k < K; k++) sum += x[t * K + k] * row[k];
      out[t * N + n] = sum;
    }
  }
}

// Backward of out = x Wᵀ (f32 weights only: training keeps full-precision parameters).
//
//   dx[t, k] += Σ_n dout[t, n] · W[n, k]        (dx = dout · W)
//   dW[n, k] += Σ_t dout[t, n] · x[t, k]        (dW = doutᵀ · x)
//
// Both accumulate, so a weight used twice (a shared classifier) or an input read by three
// matmuls (wq, wk, wv) sums every use. Each sum runs in a float64 local.
// dx: [T, K]; dw: [N, K]; dout: [T, N]; x: [T, K]; w: [N, K]
export function matmulBackward(dx: Float32Array, dw: Float32Array, dout: Float32Array, x: Float32Array, w: WeightTensor, T: number): void {
  if (w.dtype !== 'f32') throw new Error(`matmulBackward: training needs f32 weights, got ${w.dtype} [${w.rows}, ${w.cols}]`);
  const N = w.rows;
  const K = w.cols;
  const W = w.data as Float32Array;
  for (let t = 0; t < T; t++) {
    for (let k = 0; k < K; k++) {
      let sum = 0;
      for (let n = 0; n < N; n++) sum += dout[t * N + n] * W[n * K + k];
      dx[t * K + k] += sum;
    }
  }
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      let sum = 0;
      for (let t = 0; t < T; t++) sum += dout[t * N + n] * x[t * K + k];
      dw[n * K + k] += sum;
    }
  }
}
