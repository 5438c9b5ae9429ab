// The mean next-token loss over whole sequences, each run through the model from position 0
// (the prompt path, one forward call a sequence): the number `llama-ts train` reports as its
// validation loss, computed with the same log-probabilities as perplexity (log-probs.ts).
//
//   loss = (1/N) Σ_{t : target[t] ≠ −1} (logsumexp(logits[t]) − logits[t][target[t]])
//
// Sequences are given as training batches lay them out: B rows of T tokens, tokens [B*T]
// and targets [B*T] (−1: not scored).
import type { Kernels } from '../../reference/kernels.js';
import { createKVCache, forward, type KVCache } from '../../reference/model.js';
import type { LlamaModel } from '../../reference/weights.js';
import { logitsRow, logSumExp } from './log-probs.js';

export interface Sequences {
  tokens: ArrayLike<number>; // [B*T]
  targets: ArrayLike<number>; // [B*T]
  B: number;
  T: number;
}

// Mean loss over every scored target of every sequence of `batch`; `cache` holds at least T
// positions (made here when not given).
export function sequenceLoss(model: LlamaModel, kernels: Kernels, batch: Sequences, cache?: KVCache): number {
  const { B, T } = batch;
  const V = model.config.vocabSize;
  const kv = cache ?? createKVCache(model.config, T, kernels);
  let sum = 0;
  let count = 0;
  for (let b = 0; b < B; b++) {
    const tokens = Array.from({ length: T }, (_, t) => batch.tokens[b * T + t]);
    const logits = forward(model, kernels, kv, tokens, 0, { allLogits: true }); // [T, V]
    for (let t = 0; t < T; t++) {
      const target = batch.targets[b * T + t];
      if (target < 0) continue;
      const row = logitsRow(logits, t, V);
      sum += logSumExp(row) - row[target];
      count++;
    }
  }
  if (count === 0) throw new Error('sequenceLoss: no target to score (all are -1)');
  return sum / count;
}
