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
