// Log-probabilities from logits, in float64: the one place every evaluation turns a row of
// V logits into log p(token). Dimension letters: T positions, V vocabulary.

// log Σ exp(row[i]) over one row of logits [V], stable (the max is taken out first).
export function logSumExp(row: ArrayLike<number>): number {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i] > max) max = row[i];
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i] - max);
  return max + Math.log(sum);
}

// log p(token) under one row of logits [V].
export function tokenLogProb(row: ArrayLike<number>, token: number): number {
  return row[token] - logSumExp(row);
}

// Row t of logits [T, V].
export function logitsRow(logits: Float32Array, t: number, V: number): Float32Array {
  return logits.subarray(t * V, (t + 1) * V);
}

// Index of the largest value (the first one on ties).
export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}
