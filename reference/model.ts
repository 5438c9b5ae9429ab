// The LLaMA forward pass (Touvron et al. 2023, §2.2), in data-flow order:
//
//   h = embed(tokens)
//   for each layer:  h = h + Attention(RMSNorm(h))       pre-normalization
//                    h = h + FFN_SwiGLU(RMSNorm(h))
//   logits = RMSNorm(h) · Wclsᵀ
//
// The heavy operations go through `Kernels`, so the same model runs on the readable
// TypeScript, WASM SIMD or WebGPU. Dimension letters: T tokens in this call, C dim,
// H hidden, V vocab, S cache positions.
import { headDim, kvDim, type LlamaConfig } from './config.js';
import type { Kernels } from './kernels.js';
import { modelRopeFrequencies } from './rope.js';
import { readRow } from './tensor.js';
import type { LlamaModel } from './weights.js';

// Keys and values of every position seen so far, per layer: what makes decoding one
// token at a time cost O(S) instead of recomputing the whole prefix.
export interface KVCache {
  capacity: number; // S, positions it can hold
  k: Float32Array[]; // L × [S, nKvHeads*hd]
  v: Float32Array[]; // L × [S, nKvHeads*hd]
}

// With kernels that can allocate (WASM), the cache lives in their memory.
export function createKVCache(config: LlamaConfig, capacity = config.maxSeqLen, kernels?: Kernels): KVCache {
  if (capacity > config.maxSeqLen) {
    throw new Error(`KV cache of ${capacity} positions exceeds the model's context of ${config.maxSeqLen}`);
  }
  const size = capacity * kvDim(config);
  const k: Float32Array[] = [];
  const v: Float32Array[] = [];
  for (let l = 0; l < config.nLayers; l++) {
    k.push(kernels?.allocate?.(size) ?? new Float32Array(size));
    v.push(kernels?.allocate?.(size) ?? new Float32Array(size));
  }
  return { capacity, k, v };
}

// The activation buffers of a forward pass. Kernels that lend memory of their own
// (allocate: WASM linear memory) would otherwise copy every plain array argument in and
// every output back, at every call; so with them each buffer is taken once, kept for
// these kernels, and grown when a call has more tokens. Its contents never outlive a call,
// so a Trace callback must not itself run forward() with the same kernels.
const lentBuffers = new WeakMap<Kernels, Map<string, Float32Array>>();

function buffer(kernels: Kernels, name: string, length: number): Float32Array {
  if (!kernels.allocate) return new Float32Array(length);
  let buffers = lentBuffers.get(kernels);
  if (!buffers) lentBuffers.set(kernels, (buffers = new Map()));
  let b = buffers.get(name);
  if (!b || b.length < length) {
    b = kernels.allocate(Math.max(length, 2 * (b?.length ?? 0))); // doubling: a bounded total
    buffers.set(name, b);
  }
  return b.subarray(0, length);
}

// Receives every intermediate tensor by its golden/ name (see golden/FORMAT.md); `data`
// is only valid during the call, so copy what you keep.
export type Trace = (name: string, data: Float32Array, shape: number[]) => void;

export interface ForwardOptions {
  allLogits?: boolean; // logits for every position (default: the last one only)
  trace?: Trace;
}

// Runs T tokens at positions pos0 .. pos0+T-1, appending their keys/values to the cache.
// Returns logits [T, V] with allLogits, else [V] for the last position.
export function forward(
  model: LlamaModel, kernels: Kernels, cache: KVCache,
  tokens: ArrayLike<number>, pos0: number, options: ForwardOptions = {},
): Float32Array {
  const { config: c, weights: w } = model;
  const T = tokens.length;
  const C = c.dim;
  const hd = headDim(c);
  const qDim = c.nHeads * hd;
  const kvD = kvDim(c);
  const trace = options.trace;
  const ropeFreqs = modelRopeFrequencies(c); // [hd/2] θ_i
  if (T === 0) throw new Error('forward: no tokens');
  if (pos0 < 0 || pos0 + T > cache.capacity) {
    throw new Error(`forward: positions ${pos0}..${pos0 + T - 1} do not fit the context of ${cache.capacity}`);
  }

  const h = buffer(kernels, 'h', T * C); // [T, C] residual stream
  const xn = buffer(kernels, 'xn', T * C); // [T, C] normalized input of a sub-layer
  const q = buffer(kernels, 'q', T * qDim); // [T, nHeads*hd]
  const att = buffer(kernels, 'att', T * qDim); // [T, nHeads*hd] attention output before wo
  const proj = buffer(kernels, 'proj', T * C); // [T, C] output of wo or w2
  const gate = buffer(kernels, 'gate', T * c.hiddenDim); // [T, H] w1 x, then silu(w1 x) ⊙ w3 x
  const up = buffer(kernels, 'up', T * c.hiddenDim); // [T, H] w3 x

  // Token embedding: row `token` of the embedding matrix.
  const row = new Float32Array(C);
  for (let t = 0; t < T; t++) {
    const token = tokens[t];
    if (!Number.isInteger(token) || token < 0 || token >= c.vocabSize) {
      throw new Error(`forward: token ${token} at index ${t} is outside the vocabulary of ${c.vocabSize}`);
    }
    readRow(w.tokenEmbedding, token, row);
    h.set(row, t * C);
  }
  trace?.('embedding', h, [T, C]);

  for (let l = 0; l < c.nLayers; l++) {
    const lw = w.layers[l];
    const p = `layers.${l}.`;
    const kLayer = cache.k[l].subarray(pos0 * kvD, (pos0 + T) * kvD); // [T, kvDim] new rows
    const vLayer = cache.v[l].subarray(pos0 * kvD, (pos0 + T) * kvD);

    // Attention sub-layer: h += wo · attention(rope(wq x), rope(wk x), wv x), x = RMSNorm(h)
    kernels.rmsnorm(xn, h, lw.attentionNorm, T, C, c.normEps);
    trace?.(p + 'attention_norm', xn, [T, C]);
    kernels.matmul(q, xn, lw.wq, T);
    kernels.matmul(kLayer, xn, lw.wk, T);
    kernels.matmul(vLayer, xn, lw.wv, T);
    kernels.rope(q, T, c.nHeads, hd, pos0, ropeFreqs);
    kernels.rope(kLayer, T, c.nKvHeads, hd, pos0, ropeFreqs);
    trace?.(p + 'q', q, [T, qDim]);
    trace?.(p + 'k', kLayer, [T, kvD]);
    trace?.(p + 'v', vLayer, [T, kvD]);
    kernels.attention(att, q, cache.k[l], cache.v[l], T, pos0, c.nHeads, c.nKvHeads, hd);
    trace?.(p + 'attn', att, [T, qDim]);
    kernels.matmul(proj, att, lw.wo, T);
    trace?.(p + 'attn_out', proj, [T, C]);
    for (let i = 0; i < T * C; i++) h[i] += proj[i];
    trace?.(p + 'h', h, [T, C]);

    // Feed-forward sub-layer: h += w2 · (silu(w1 x) ⊙ w3 x), x = RMSNorm(h)
    kernels.rmsnorm(xn, h, lw.ffnNorm, T, C, c.normEps);
    trace?.(p + 'ffn_norm', xn, [T, C]);
    kernels.matmul(gate, xn, lw.w1, T);
    kernels.matmul(up, xn, lw.w3, T);
    kernels.swiglu(gate, gate, up, T * c.hiddenDim);
    kernels.matmul(proj, gate, lw.w2, T);
    trace?.(p + 'ffn_out', proj, [T, C]);
    for (let i = 0; i < T * C; i++) h[i] += proj[i];
    trace?.(p + 'out', h, [T, C]);
  }

  // Final norm and classifier; only the rows asked for.
  kernels.rmsnorm(xn, h, w.norm, T, C, c.normEps);
  trace?.('norm', xn, [T, C]);
  const rows = options.allLogits ? T : 1;
  const logits = buffer(kernels, 'logits', rows * c.vocabSize); // [rows, V]
  kernels.matmul(logits, xn.subarray((T - rows) * C), w.output, rows);
  if (options.allLogits) trace?.('logits', logits, [T, c.vocabSize]);
  return kernels.allocate ? logits.slice() : logits; // the caller's own copy
}

// forward() through whichever path the kernels have: their own forwardAsync (a GPU backend
// runs the whole pass and reads back once) or the per-operation pass above.
export async function runForward(
  model: LlamaModel, kernels: Kernels, cache: KVCache,
  tokens: ArrayLike<number>, pos0: number, options: ForwardOptions = {},
): Promise<Float32Array> {
  if (!kernels.forwardAsync) return forward(model, kernels, cache, tokens, pos0, options);
  return kernels.forwardAsync(model, cache, tokens, pos0, options);
}
