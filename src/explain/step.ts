// One step of generation, explained: the reference forward pass (reference/model.ts) over
// the whole sequence so far, with its trace, and what the views show computed from that
// trace by the reference's own functions: attention weights (attentionWeights), the logit
// lens (rmsnorm + matmul with the final norm and classifier), SwiGLU's gate pre-activations
// (matmul with w1), RMSNorm's scale and the residual stream's norm. No second model: every
// number here is the one forward() computed, or recomputed by the function it used.
import { attentionWeights } from '../../reference/attention.js';
import { headDim, kvDim } from '../../reference/config.js';
import type { Kernels } from '../../reference/kernels.js';
import { matmul } from '../../reference/matmul.js';
import { createKVCache, forward } from '../../reference/model.js';
import { rmsnorm } from '../../reference/rmsnorm.js';
import { modelRopeFrequencies } from '../../reference/rope.js';
import { tsKernels } from '../../reference/ts-kernels.js';
import type { LlamaModel } from '../../reference/weights.js';
import { logitLens, type LensRow } from './lens.js';

export interface StepShape {
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  dim: number; // C
  hiddenDim: number; // H
  vocabSize: number; // V
  normEps: number;
}

// Plain arrays and Float32Arrays only, so a worker can post it to the page (structured clone).
export interface ExplainStep {
  shape: StepShape;
  tokens: number[]; // the sequence, T tokens; the step predicts the token after the last
  logits: Float32Array; // [V] at the last position: the real prediction
  attention: Float32Array[]; // per layer [nHeads, T, T]: row t over positions s ≤ t (0 above)
  lens: LensRow[]; // the embedding, then each layer's output, through the final norm and classifier
  residual: Float32Array[]; // the residual stream [T, C]: the embedding, then after each layer (L + 1)
  residualNorms: Float32Array; // [T, 2L + 1] ‖h‖: embedding, then after attention and after the FFN of each layer
  attentionNormGains: Float32Array[]; // per layer [C]: RMSNorm's g before attention
  attentionNormOut: Float32Array[]; // per layer [T, C]: RMSNorm's output before attention
  gatePre: Float32Array[]; // per layer [T, H]: w1 x, the SwiGLU gate before silu
  up: Float32Array[]; // per layer [T, H]: w3 x
  ropeFreqs: Float64Array; // [hd/2] θ_i, radians per position of pair (2i, 2i+1)
}

export interface ExplainOptions {
  kernels?: Kernels; // default: the readable TypeScript kernels (reference/ts-kernels.ts)
}

const NEEDED = /^(embedding|layers\.\d+\.(attention_norm|q|k|h|ffn_norm|out)|logits)$/;

export function explainStep(model: LlamaModel, tokens: readonly number[], options: ExplainOptions = {}): ExplainStep {
  const c = model.config;
  const T = tokens.length;
  if (T === 0) throw new Error('explain: no tokens (the prompt is empty and BOS is off)');
  if (T > c.maxSeqLen) throw new Error(`explain: ${T} tokens exceed the model's context of ${c.maxSeqLen}`);
  const kernels = options.kernels ?? tsKernels;
  const traced = new Map<string, Float32Array>();
  const cache = createKVCache(c, T, kernels);
  const all = forward(model, kernels, cache, tokens, 0, {
    allLogits: true,
    trace: (name, data) => {
      if (NEEDED.test(name)) traced.set(name, data.slice()); // trace buffers are reused: copy
    },
  });
  const get = (name: string): Float32Array => {
    const t = traced.get(name);
    if (!t) throw new Error(`explain: the forward pass traced no "${name}"`);
    return t;
  };
  const C = c.dim;
  const H = c.hiddenDim;
  const V = c.vocabSize;
  const L = c.nLayers;
  const hd = headDim(c);
  const kvD = kvDim(c);
  const qDim = c.nHeads * hd;
  const group = c.nHeads / c.nKvHeads;

  const attention: Float32Array[] = [];
  const gatePre: Float32Array[] = [];
  const up: Float32Array[] = [];
  const residual: Float32Array[] = [get('embedding')];
  const scores = new Float32Array(T);
  for (let l = 0; l < L; l++) {
    const q = get(`layers.${l}.q`);
    const k = get(`layers.${l}.k`);
    const weights = new Float32Array(c.nHeads * T * T);
    for (let h = 0; h < c.nHeads; h++) {
      for (let t = 0; t < T; t++) {
        attentionWeights(scores, q, t * qDim + h * hd, k, Math.floor(h / group) * hd, kvD, t + 1, hd);
        weights.set(scores.subarray(0, t + 1), (h * T + t) * T);
      }
    }
    attention.push(weights);
    const xn = get(`layers.${l}.ffn_norm`);
    const g = new Float32Array(T * H);
    const u = new Float32Array(T * H);
    matmul(g, xn, model.weights.layers[l].w1, T);
    matmul(u, xn, model.weights.layers[l].w3, T);
    gatePre.push(g);
    up.push(u);
    residual.push(get(`layers.${l}.out`));
  }

  const residualNorms = new Float32Array(T * (2 * L + 1));
  const stages = [get('embedding'), ...Array.from({ length: L }, (_, l) => [get(`layers.${l}.h`), get(`layers.${l}.out`)]).flat()];
  for (let t = 0; t < T; t++) {
    stages.forEach((x, i) => (residualNorms[t * (2 * L + 1) + i] = norm(x, t * C, C)));
  }

  return {
    shape: { nLayers: L, nHeads: c.nHeads, nKvHeads: c.nKvHeads, headDim: hd, dim: C, hiddenDim: H, vocabSize: V, normEps: c.normEps },
    tokens: [...tokens],
    logits: all.slice((T - 1) * V, T * V),
    attention,
    lens: logitLens(model, residual, T),
    residual,
    residualNorms,
    attentionNormGains: model.weights.layers.map((lw) => Float32Array.from(lw.attentionNorm)),
    attentionNormOut: Array.from({ length: L }, (_, l) => get(`layers.${l}.attention_norm`)),
    gatePre,
    up,
    ropeFreqs: Float64Array.from(modelRopeFrequencies(c)),
  };
}

function norm(x: Float32Array, offset: number, n: number): number {
  let ss = 0;
  for (let i = 0; i < n; i++) ss += x[offset + i] * x[offset + i];
  return Math.sqrt(ss);
}

// RMSNorm's scale 1 / sqrt(mean(x²) + eps) of row t of x [T, C], as reference/rmsnorm.ts computes it.
export function rmsScale(x: Float32Array, t: number, C: number, eps: number): number {
  const out = new Float32Array(C);
  const ones = new Float32Array(C).fill(1);
  rmsnorm(out, x.subarray(t * C, (t + 1) * C), ones, 1, C, eps);
  // out = x · scale with a gain of ones: the scale is the ratio at the largest entry
  let i = 0;
  for (let j = 1; j < C; j++) if (Math.abs(x[t * C + j]) > Math.abs(x[t * C + i])) i = j;
  return x[t * C + i] === 0 ? 0 : out[i] / x[t * C + i];
}
