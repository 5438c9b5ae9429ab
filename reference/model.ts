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
  if (T === 0) throw new Error('forward: no tokens');
  if (pos0 < 0 || pos0 + T > cache.capacity) {
    throw new Error(`forward: positions ${pos0}..${pos0 + T - 1} do not fit the context of ${cache.capacity}`);
  }

  const h = new Float32Array(T * C); // [T, C] residual stream
  const xn = new Float32Array(T * C); // [T, C] normalized input of a sub-layer
  const q = new Float32Array(T * qDim); // [T, nHeads*hd]
  const att = new Float32Array(T * qDim); // [T, nHeads*hd] attention output before wo
  const proj = new Float32Array(T * C); // [T, C] output of wo or w2
  const gate = new Float32Array(T * c.hiddenDim); // [T, H] w1 x, then silu(w1 x) ⊙ w3 x
  const up = new Float32Array(T * c.hiddenDim); // [T, H] w3 x

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
    kernels.rope(q, T, c.nHeads, hd, pos0, c.ropeTheta);
    kernels.rope(kLayer, T, c.nKvHeads, hd, pos0, c.ropeTheta);
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
  const logits = new Float32Array(rows * c.vocabSize); // [rows, V]
  kernels.matmul(logits, xn.subarray((T - rows) * C), w.output, rows);
  if (options.allLogits) trace?.('logits', logits, [T, c.vocabSize]);
  return logits;
}
