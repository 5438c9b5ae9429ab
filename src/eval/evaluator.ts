// What every evaluation needs: a model, its tokenizer, kernels and one KV cache. The cache is
// the evaluator's own (a loaded Llama's generation cache is left alone), sized to the context
// the model was loaded with.
import type { Kernels } from '../../reference/kernels.js';
import { createKVCache, forward, type KVCache } from '../../reference/model.js';
import type { LlamaConfig } from '../../reference/config.js';
import type { LlamaModel } from '../../reference/weights.js';

// What evaluation needs of a tokenizer (src/tokenizer's Tokenizer has it).
export interface EvalTokenizer {
  encode(text: string, options?: { bos?: boolean }): number[];
  readonly vocab: { readonly bosId: number };
}

export interface Evaluator {
  model: LlamaModel;
  tokenizer: EvalTokenizer;
  kernels: Kernels;
  cache: KVCache; // capacity = the longest sequence one forward call may hold
  modelName: string; // for reports and the logits file header
}

interface CacheMaker {
  createKVCache?(config: LlamaConfig, capacity?: number): KVCache; // WASM: beside each layer's weights
}

// A loaded Llama (src/llama.ts) or any { model, tokenizer, kernels, contextLength }.
export function createEvaluator(
  loaded: { model: LlamaModel; tokenizer: EvalTokenizer; kernels: Kernels; contextLength: number },
  modelName = 'model',
): Evaluator {
  const { model, kernels, contextLength } = loaded;
  const cache = (kernels as CacheMaker).createKVCache?.(model.config, contextLength) ?? createKVCache(model.config, contextLength, kernels);
  return { model, tokenizer: loaded.tokenizer, kernels, cache, modelName };
}

// Logits [T, V] of `tokens` run from `pos0` on: row t predicts the token after tokens[t].
// Positions before pos0 must already be in the cache (a causal cache: rows past them are
// simply overwritten, so rewinding to a shorter prefix is free).
export function logitsAt(ev: Evaluator, tokens: ArrayLike<number>, pos0: number): Float32Array {
  return forward(ev.model, ev.kernels, ev.cache, tokens, pos0, { allLogits: true });
}
