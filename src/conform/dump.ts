// `llama-ts dump`: every intermediate tensor of one forward pass, under golden/ names, so that
// `conform` can compare it with a golden case (see golden/FORMAT.md). Any port can write the
// same file to check itself.
import { crossEntropy } from '../../reference/cross-entropy.js';
import type { Kernels } from '../../reference/kernels.js';
import { createKVCache, forward } from '../../reference/model.js';
import type { LlamaModel } from '../../reference/weights.js';
import type { TensorToWrite } from '../formats/safetensors.js';

export interface DumpOptions {
  targets?: number[]; // next-token targets (-1 = ignored): adds `loss`
  decode?: boolean; // also decode one token at a time with the KV cache: adds `decode_logits` (default true)
}

// Returns [name, tensor] pairs in data-flow order.
export function dumpForward(model: LlamaModel, kernels: Kernels, tokens: number[], options: DumpOptions = {}): Array<[string, TensorToWrite]> {
  const { vocabSize: V, maxSeqLen } = model.config;
  const T = tokens.length;
  if (T > maxSeqLen) throw new Error(`dump: ${T} tokens are more than the model's context of ${maxSeqLen}`);
  const out: Array<[string, TensorToWrite]> = [];
  out.push(['tokens', { dtype: 'I32', shape: [T], data: Int32Array.from(tokens) }]);
  if (options.targets) {
    if (options.targets.length !== T) throw new Error(`dump: ${options.targets.length} targets for ${T} tokens`);
    out.push(['targets', { dtype: 'I32', shape: [T], data: Int32Array.from(options.targets) }]);
  }

  const logits = forward(model, kernels, createKVCache(model.config, T, kernels), tokens, 0, {
    allLogits: true,
    trace: (name, data, shape) => out.push([name, { dtype: 'F32', shape, data: data.slice() }]),
  });
  if (options.targets) {
    const loss = crossEntropy(logits, options.targets, T, V);
    out.push(['loss', { dtype: 'F64', shape: [], data: Float64Array.of(loss) }]);
  }
  if (options.decode ?? true) {
    const cache = createKVCache(model.config, T, kernels);
    const decoded = new Float32Array(T * V); // [T, V]
    for (let t = 0; t < T; t++) decoded.set(forward(model, kernels, cache, [tokens[t]], t), t * V);
    out.push(['decode_logits', { dtype: 'F32', shape: [T, V], data: decoded }]);
  }
  return out;
}

// "1,2,3" → [1, 2, 3], naming the flag on bad input.
export function parseIdList(text: string, flag: string): number[] {
  const ids = text.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (ids.length === 0 || ids.some((n) => !Number.isInteger(n))) throw new Error(`${flag} expects comma-separated integers, got "${text}"`);
  return ids;
}
