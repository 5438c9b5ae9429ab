// Broken "ports" for the conformance tests: llama-ts's own reference with one classic porting
// bug injected each, dumped through the same dump writer a real port's dump is compared as.
// Each bug says which cases can see it; golden/FORMAT.md's bug table lists the same.
import { softmax } from '../reference/attention.js';
import { f16ToF32, f32ToF16 } from '../reference/half.js';
import type { Kernels } from '../reference/kernels.js';
import { rmsnorm } from '../reference/rmsnorm.js';
import { ropeFrequencies } from '../reference/rope.js';
import { f32Tensor } from '../reference/tensor.js';
import { tsKernels } from '../reference/ts-kernels.js';
import type { LlamaModel } from '../reference/weights.js';
import type { GoldenCase } from '../src/conform/golden.js';

export interface PortBug {
  name: string;
  expectedFirst: string; // the tensor conform must name first
  sees: (c: GoldenCase) => boolean; // can this case see the bug at all?
  kernels?: (c: GoldenCase) => Kernels;
  model?: (m: LlamaModel) => LlamaModel;
  long?: boolean; // also run on long-positions (4128 tokens, slow): only the bugs that need it
}

const T = (c: GoldenCase) => c.tokens.length;
const cfg = (c: GoldenCase, key: string) => c.config[key] as number;

// x / (sqrt(mean x²) + eps) instead of x / sqrt(mean x² + eps)
const epsOutsideSqrt: Kernels['rmsnorm'] = (out, x, gain, rows, C, eps) => {
  for (let t = 0; t < rows; t++) {
    let ss = 0;
    for (let c = 0; c < C; c++) ss += x[t * C + c] ** 2;
    const inv = 1 / (Math.sqrt(ss / C) + eps);
    for (let c = 0; c < C; c++) out[t * C + c] = x[t * C + c] * inv * gain[c];
  }
};

// normalize(x ⊙ g): the gain multiplied in before the mean square is taken
const gainBeforeNormalizing: Kernels['rmsnorm'] = (out, x, gain, rows, C, eps) => {
  const scaled = new Float32Array(rows * C);
  for (let i = 0; i < rows * C; i++) scaled[i] = x[i] * gain[i % C];
  rmsnorm(out, scaled, new Float32Array(C).fill(1), rows, C, eps);
};

// One query head (q at qo) over the first n cached positions of kv head offset kvo, written to
// out at qo: the correct per-head attention, which the attention bugs below call with the
// wrong n or kvo.
function attendHead(
  out: Float32Array, q: Float32Array, kCache: Float32Array, vCache: Float32Array, scores: Float32Array,
  qo: number, kvo: number, n: number, nKvHeads: number, hd: number,
): void {
  for (let s = 0; s < n; s++) {
    let dot = 0;
    for (let i = 0; i < hd; i++) dot += q[qo + i] * kCache[s * nKvHeads * hd + kvo + i];
    scores[s] = dot / Math.sqrt(hd);
  }
  softmax(scores, n);
  for (let i = 0; i < hd; i++) {
    let acc = 0;
    for (let s = 0; s < n; s++) acc += scores[s] * vCache[s * nKvHeads * hd + kvo + i];
    out[qo + i] = acc;
  }
}

// softmax over every cached row: no causal mask during a prompt (prefill)
const noCausalMask: Kernels['attention'] = (out, q, kCache, vCache, rows, pos0, nHeads, nKvHeads, hd) => {
  const group = nHeads / nKvHeads;
  const n = pos0 + rows;
  const scores = new Float32Array(n);
  for (let t = 0; t < rows; t++) {
    for (let h = 0; h < nHeads; h++) {
      const qo = t * nHeads * hd + h * hd;
      const kvo = Math.floor(h / group) * hd;
      attendHead(out, q, kCache, vCache, scores, qo, kvo, n, nKvHeads, hd);
    }
  }
};

// RoPE on adjacent pairs with the angle of pair i at position pos given by `angle` (freqs [hd/2]:
// the θ_i the model asks for, scaling included)
function ropeWith(angle: (pos: number, i: number, freqs: Float64Array) => number): Kernels['rope'] {
  return (x, rows, nHeads, hd, pos0, freqs) => {
    for (let t = 0; t < rows; t++) {
      for (let i = 0; i < hd / 2; i++) {
        const a = angle(pos0 + t, i, freqs);
        for (let h = 0; h < nHeads; h++) {
          const j = t * nHeads * hd + h * hd + 2 * i;
          const [x0, x1] = [x[j], x[j + 1]];
          x[j] = x0 * Math.cos(a) - x1 * Math.sin(a);
          x[j + 1] = x0 * Math.sin(a) + x1 * Math.cos(a);
        }
      }
    }
  };
}
const half = (v: number) => f16ToF32(f32ToF16(v));
const rightAngle = (pos: number, i: number, freqs: Float64Array) => pos * freqs[i];

// Hugging Face's rotate-half pairing (i, i + hd/2) instead of Meta's adjacent pairs
const rotateHalf: Kernels['rope'] = (x, rows, nHeads, hd, pos0, freqs) => {
  for (let t = 0; t < rows; t++) {
    for (let h = 0; h < nHeads; h++) {
      for (let i = 0; i < hd / 2; i++) {
        const a = rightAngle(pos0 + t, i, freqs);
        const j = t * nHeads * hd + h * hd + i;
        const [x0, x1] = [x[j], x[j + hd / 2]];
        x[j] = x0 * Math.cos(a) - x1 * Math.sin(a);
        x[j + hd / 2] = x0 * Math.sin(a) + x1 * Math.cos(a);
      }
    }
  }
};

// query head h reading key/value head h % nKvHeads instead of ⌊h / group⌋
const moduloHeads: Kernels['attention'] = (out, q, kCache, vCache, rows, pos0, nHeads, nKvHeads, hd) => {
  for (let t = 0; t < rows; t++) {
    for (let h = 0; h < nHeads; h++) {
      const kvo = (h % nKvHeads) * hd;
      const qo = t * nHeads * hd + h * hd;
      const n = pos0 + t + 1;
      const scores = new Float32Array(n);
      attendHead(out, q, kCache, vCache, scores, qo, kvo, n, nKvHeads, hd);
    }
  }
};

// scores q·k without the 1/sqrt(hd)
const noScale: Kernels['attention'] = (out, q, kCache, vCache, rows, pos0, nHeads, nKvHeads, hd) =>
  tsKernels.attention(out, q.map((x) => x * Math.sqrt(hd)), kCache, vCache, rows, pos0, nHeads, nKvHeads, hd);

// RoPE at the wrong position when decoding one token at a time (T = 1 per call): `shift(pos)`
function decodePositions(shift: (pos: number) => number): Kernels['rope'] {
  return (x, rows, nHeads, hd, pos0, freqs) => tsKernels.rope(x, rows, nHeads, hd, rows === 1 ? shift(pos0) : pos0, freqs);
}

const withKernels = (k: Partial<Kernels>) => () => ({ ...tsKernels, ...k }) as Kernels;

// The classifier: a separate one never loaded (zeros) where it is shared, the embeddings where it is separate.
function wrongClassifierSharing(m: LlamaModel): LlamaModel {
  const { vocabSize: V, dim: C } = m.config;
  const output = m.config.sharedClassifier ? f32Tensor(new Float32Array(V * C), V, C) : m.weights.tokenEmbedding;
  return { config: m.config, weights: { ...m.weights, output } };
}

export const BUGS: PortBug[] = [
  { name: 'eps outside the square root', expectedFirst: 'layers.0.attention_norm', sees: () => true, kernels: withKernels({ rmsnorm: epsOutsideSqrt }) },
  { name: 'norm gain applied before normalizing', expectedFirst: 'layers.0.attention_norm', sees: () => true, kernels: withKernels({ rmsnorm: gainBeforeNormalizing }) },
  { name: 'RMSNorm without its gain', expectedFirst: 'layers.0.attention_norm', sees: () => true, kernels: withKernels({ rmsnorm: (o, x, g, rows, C, eps) => rmsnorm(o, x, new Float32Array(C).fill(1), rows, C, eps) }) },
  {
    name: 'the other eps (1e-6 for 1e-5 and back)', expectedFirst: 'layers.0.attention_norm', sees: () => true,
    kernels: (c) => withKernels({ rmsnorm: (o, x, g, rows, C) => rmsnorm(o, x, g, rows, C, cfg(c, 'norm_eps') === 1e-5 ? 1e-6 : 1e-5) })(),
  },
  { name: 'softmax over the whole row, no causal mask', expectedFirst: 'layers.0.attn', sees: (c) => T(c) > 1, kernels: withKernels({ attention: noCausalMask }) },
  { name: 'kv head h % n_kv instead of h // group', expectedFirst: 'layers.0.attn', sees: (c) => cfg(c, 'n_kv_heads') > 1 && cfg(c, 'n_kv_heads') < cfg(c, 'n_heads'), kernels: withKernels({ attention: moduloHeads }) },
  { name: 'rotate-half RoPE', expectedFirst: 'layers.0.q', sees: (c) => T(c) > 1, kernels: withKernels({ rope: rotateHalf }) },
  {
    name: 'the wrong rope theta (1e4 for 5e5 and back)', expectedFirst: 'layers.0.q', sees: (c) => T(c) > 1,
    kernels: (c) => withKernels({ rope: ropeWith((pos, i, freqs) => rightAngle(pos, i, ropeFrequencies(2 * freqs.length, cfg(c, 'rope_theta') === 1e4 ? 5e5 : 1e4))) })(),
  },
  {
    name: 'rope_scaling ignored (θ_i unscaled)', expectedFirst: 'layers.0.q', sees: (c) => T(c) > 1 && c.config.rope_scaling != null,
    kernels: (c) => withKernels({ rope: ropeWith((pos, i, freqs) => rightAngle(pos, i, ropeFrequencies(2 * freqs.length, cfg(c, 'rope_theta')))) })(),
  },
  { name: 'the RoPE angle in float16', expectedFirst: 'layers.0.q', sees: (c) => T(c) > 1, kernels: withKernels({ rope: ropeWith((pos, i, freqs) => half(pos * half(freqs[i]))) }) },
  // llama2.c and ggml compute the angle in float32: off by up to 6.4e-5 rad at position ~4100,
  // q and k by ~6.5e-5 (golden/manifest.json, long-positions rope_angles); within float32
  // noise at the short cases' positions, so only long-positions sees it
  {
    name: 'the RoPE angle in float32 at long positions', expectedFirst: 'layers.0.q', sees: (c) => (c.rows_from ?? 0) > 0, long: true,
    kernels: withKernels({ rope: ropeWith((pos, i, freqs) => Math.fround(Math.fround(pos) * Math.fround(freqs[i]))) }),
  },
  { name: 'no 1/sqrt(hd) on the attention scores', expectedFirst: 'layers.0.attn', sees: (c) => T(c) > 1, kernels: withKernels({ attention: noScale }) },
  { name: 'decode: every token at position 0', expectedFirst: 'decode_logits', sees: (c) => T(c) > 1, kernels: withKernels({ rope: decodePositions(() => 0) }) },
  { name: 'classifier shared when it is not, or not when it is', expectedFirst: 'logits', sees: () => true, model: wrongClassifierSharing },
];

// Seen by no case (golden/FORMAT.md says so): the same position offset on q and k while decoding.
// RoPE makes q·k depend only on the difference of the two positions.
export const INVISIBLE_DECODE_OFFSET: Kernels = { ...tsKernels, rope: decodePositions((pos) => pos + 5) };
