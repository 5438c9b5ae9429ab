// The training objective: mean cross-entropy of the next token.
//
//   loss = −(1/N) Σ_{t : target[t] ≠ ignore} log softmax(logits[t])[target[t]]
//
// Computed with the log-sum-exp trick so large logits do not overflow.

export const IGNORE_INDEX = -1;

// logits: [T, V]; targets: [T]; returns the mean over the targets that are not ignored
export function crossEntropy(logits: Float32Array, targets: ArrayLike<number>, T: number, V: number): number {
  let total = 0;
  let count = 0;
  for (let t = 0; t < T; t++) {
    const target = targets[t];
    if (target === IGNORE_INDEX) continue;
    if (!Number.isInteger(target) || target < 0 || target >= V) throw new Error(`crossEntropy: target ${target} at ${t} is outside the vocabulary of ${V}`);
    const o = t * V;
    let max = -Infinity;
    for (let v = 0; v < V; v++) if (logits[o + v] > max) max = logits[o + v];
    let sum = 0;
    for (let v = 0; v < V; v++) sum += Math.exp(logits[o + v] - max);
    total += max + Math.log(sum) - logits[o + target];
    count++;
  }
  return count === 0 ? 0 : total / count;
}

// Backward of the mean cross-entropy: with p = softmax(logits[t]) and N the targets not ignored,
//
//   dlogits[t, v] += (p_v − [v = target[t]]) / N        (ignored rows get nothing)
//
// dlogits, logits: [T, V]; targets: [T]
export function crossEntropyBackward(dlogits: Float32Array, logits: Float32Array, targets: ArrayLike<number>, T: number, V: number): void {
  let count = 0;
  for (let t = 0; t < T; t++) if (targets[t] !== IGNORE_INDEX) count++;
  if (count === 0) return;
  for (let t = 0; t < T; t++) {
    const target = targets[t];
    if (target === IGNORE_INDEX) continue;
    if (!Number.isInteger(target) || target < 0 || target >= V) throw new Error(`crossEntropyBackward: target ${target} at ${t} is outside the vocabulary of ${V}`);
    const o = t * V;
    let max = -Infinity;
    for (let v = 0; v < V; v++) if (logits[o + v] > max) max = logits[o + v];
    let sum = 0;
    for (let v = 0; v < V; v++) sum += Math.exp(logits[o + v] - max);
    for (let v = 0; v < V; v++) {
      const p = Math.exp(logits[o + v] - max) / sum;
      dlogits[o + v] += (p - (v === target ? 1 : 0)) / count;
    }
  }
}
