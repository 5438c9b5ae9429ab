// Token embedding: a table lookup, and its backward, a scatter-add.
//
//   h[t] = E[token[t]]          dE[token[t]] += dh[t]
//
// A token that appears twice receives both rows' gradients; with a shared classifier the
// same dE also collects the classifier's gradient (matmulBackward adds into it).
import { readRow, type WeightTensor } from './tensor.js';

// out: [T, C]; table: [V, C]; tokens: [T]
export function embedding(out: Float32Array, table: WeightTensor, tokens: ArrayLike<number>, T: number): void {
  const C = table.cols;
  const row = new Float32Array(C);
  for (let t = 0; t < T; t++) {
    const token = tokens[t];
    if (!Number.isInteger(token) || token < 0 || token >= table.rows) {
      throw new Error(`embedding: token ${token} at index ${t} is outside the vocabulary of ${table.rows}`);
    }
    readRow(table, token, row);
    out.set(row, t * C);
  }
}

// dtable: [V, C]; dout: [T, C]; tokens: [T] (already checked by the forward)
export function embeddingBackward(dtable: Float32Array, dout: Float32Array, tokens: ArrayLike<number>, T: number, C: number): void {
  for (let t = 0; t < T; t++) {
    const o = tokens[t] * C;
    for (let c = 0; c < C; c++) dtable[o + c] += dout[t * C + c];
  }
}
