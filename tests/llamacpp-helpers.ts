// Running a GGUF through llama.cpp (node-llama-cpp, CPU, F32 KV cache) and through llama-ts,
// and comparing next-token log-probabilities position by position (as llamacpp-parity.test.ts
// does for F32 files).
import { getLlama, LlamaLogLevel, type ControlledEvaluateInputItem, type Llama, type Token } from 'node-llama-cpp';
import type { Kernels } from '../reference/kernels.js';
import { createKVCache, forward } from '../reference/model.js';
import type { LlamaModel } from '../reference/weights.js';
import { llamaCppActivations } from './llamacpp-activations.js';

export const MIN_P = 1e-6; // probabilities compared where either side is above this

export function openLlamaCpp(): Promise<Llama> {
  return getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
}

export interface Greedy {
  tokens: number[]; // prompt, then the greedy continuation
  logProbs: Float64Array[]; // [i]: the distribution of the token after tokens[0..i]
}

// Our greedy continuation of `prompt` to `positions` tokens, with log-softmax at every position.
export function ourGreedy(model: LlamaModel, kernels: Kernels, prompt: number[], positions: number): Greedy {
  const V = model.config.vocabSize;
  const cache = createKVCache(model.config, positions);
  const all = forward(model, kernels, cache, prompt, 0, { allLogits: true }); // [T, V]
  const logProbs = prompt.map((_, t) => logSoftmax(all.subarray(t * V, (t + 1) * V)));
  const tokens = [...prompt];
  while (tokens.length < positions) {
    const next = argmax(logProbs[logProbs.length - 1]);
    tokens.push(next);
    logProbs.push(logSoftmax(forward(model, kernels, cache, [next], tokens.length - 1)));
  }
  return { tokens, logProbs };
}

export function logSoftmax(logits: Float32Array): Float64Array {
  let max = -Infinity;
  for (const x of logits) max = Math.max(max, x);
  let sum = 0;
  for (const x of logits) sum += Math.exp(x - max);
  const logZ = max + Math.log(sum);
  return Float64Array.from(logits, (x) => x - logZ);
}

function argmax(a: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}

// Teacher-forced: log-softmax after each of `tokens`, in one forward pass.
export function ourDistributions(model: LlamaModel, kernels: Kernels, tokens: number[]): Float64Array[] {
  const V = model.config.vocabSize;
  const all = forward(model, kernels, createKVCache(model.config, tokens.length), tokens, 0, { allLogits: true }); // [T, V]
  return tokens.map((_, t) => logSoftmax(all.subarray(t * V, (t + 1) * V)));
}

// Activations rounded to 8 bits as llama.cpp's CPU matmuls round them (llamacpp-activations.ts).
export const llamaCppActivationKernels: Kernels = llamaCppActivations();

// llama.cpp's next-token probabilities after each of `tokens` (one batch, F32 KV cache).
export async function llamaCppDistributions(llama: Llama, path: string, tokens: number[]): Promise<Map<number, number>[]> {
  const model = await llama.loadModel({ modelPath: path });
  try {
    const context = await model.createContext({
      contextSize: 128, batchSize: tokens.length, threads: 1, flashAttention: false,
      experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32',
    });
    const input = tokens.map((t): ControlledEvaluateInputItem => [t as Token, { generateNext: { probabilities: true } }]);
    const out = await context.getSequence().controlledEvaluate(input);
    const probs = out.map((o, i) => {
      if (!o?.next.probabilities) throw new Error(`llama.cpp gave no probabilities at position ${i}`);
      return o.next.probabilities;
    });
    await context.dispose();
    return probs;
  } finally {
    await model.dispose();
  }
}

export interface Comparison {
  maxError: number; // largest |Δ log p| over compared entries
  compared: number; // entries compared
  greedyMismatches: number; // generated positions where llama.cpp's argmax is not our token
}

export function compareDistributions(ours: Greedy, theirs: Map<number, number>[], promptLength: number): Comparison {
  let maxError = 0, compared = 0, greedyMismatches = 0;
  theirs.forEach((probs, i) => {
    const mine = ours.logProbs[i];
    for (let id = 0; id < mine.length; id++) {
      const p = probs.get(id) ?? 0;
      if (p <= MIN_P && Math.exp(mine[id]) <= MIN_P) continue;
      compared++;
      maxError = Math.max(maxError, p > 0 ? Math.abs(Math.log(p) - mine[id]) : Infinity);
    }
    const top = probs.entries().next().value![0];
    if (i + 1 >= promptLength && i + 1 < ours.tokens.length && top !== ours.tokens[i + 1]) greedyMismatches++;
  });
  return { maxError, compared, greedyMismatches };
}
