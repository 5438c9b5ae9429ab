// Rotary position embeddings (Su et al. 2021) on adjacent pairs, as in Meta's model.py
// (complex multiplication of (x[2i], x[2i+1])) and in GGUF files:
//
//   θ_i = theta^(-2i / hd) / factor_i,   φ = pos · θ_i
//   (x[2i], x[2i+1]) ← (x[2i] cos φ − x[2i+1] sin φ,  x[2i] sin φ + x[2i+1] cos φ)
//
// factor_i is 1 in the paper. Longer-context models divide some frequencies (RoPE scaling):
// linear scaling (positions divided by a factor) divides them all by that factor; Llama 3.1's
// scaling divides the low frequencies by `factor` and leaves the high ones (llama3FreqFactors).
// Either way the model holds one list, config.ropeFreqFactors, as llama.cpp's rope_freqs.weight.
//
// Hugging Face checkpoints use "rotate half" pairs (i, i + hd/2) instead and permute the
// rows of wq/wk to match; importers undo that permutation so this one RoPE serves all.
import { headDim, type LlamaConfig } from './config.js';

// θ_i for each pair: [hd/2] radians per position. In float64 (the angle pos·θ_i stays exact
// enough at long positions).
export function ropeFrequencies(hd: number, theta: number, freqFactors?: readonly number[]): Float64Array {
  const freqs = new Float64Array(hd / 2); // [hd/2]
  for (let i = 0; i < hd / 2; i++) freqs[i] = Math.pow(theta, (-2 * i) / hd) / (freqFactors?.[i] ?? 1);
  return freqs;
}

// A model's θ_i, computed once per config.
const frequenciesOf = new WeakMap<LlamaConfig, Float64Array>();
export function modelRopeFrequencies(c: LlamaConfig): Float64Array {
  let freqs = frequenciesOf.get(c);
  if (!freqs) frequenciesOf.set(c, (freqs = ropeFrequencies(headDim(c), c.ropeTheta, c.ropeFreqFactors)));
  return freqs;
}

// Llama 3.1's RoPE scaling (Meta's apply_scaling; Hugging Face rope_type "llama3"). With
// wavelength λ_i = 2π / θ_i (θ_i unscaled) and the original context N:
//
//   λ_i < N / highFreqFactor    factor_i = 1                (short waves: kept)
//   λ_i > N / lowFreqFactor     factor_i = factor           (long waves: stretched)
//   otherwise                   s = (N/λ_i − lowFreqFactor) / (highFreqFactor − lowFreqFactor)
//                               θ'_i = (1 − s) θ_i / factor + s θ_i,  factor_i = θ_i / θ'_i
export interface Llama3RopeScaling {
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalContextLength: number; // N, original_max_position_embeddings
}

// factor_i: [hd/2]
export function llama3FreqFactors(hd: number, theta: number, s: Llama3RopeScaling): number[] {
  const lowFreqWavelen = s.originalContextLength / s.lowFreqFactor;
  const highFreqWavelen = s.originalContextLength / s.highFreqFactor;
  const factors: number[] = [];
  for (let i = 0; i < hd / 2; i++) {
    const wavelen = (2 * Math.PI) / Math.pow(theta, (-2 * i) / hd);
    if (wavelen < highFreqWavelen) factors.push(1);
    else if (wavelen > lowFreqWavelen) factors.push(s.factor);
    else {
      const smooth = (s.originalContextLength / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
      factors.push(1 / ((1 - smooth) / s.factor + smooth));
    }
  }
  return factors;
}

// x: [T, nHeads*hd], rotated in place; row t is at position pos0 + t; freqs: [hd/2] θ_i
export function rope(x: Float32Array, T: number, nHeads: number, hd: number, pos0: number, freqs: Float64Array): void {
  rotatePairs(x, T, nHeads, hd, pos0, freqs, +1);
}

// Backward of RoPE. Each pair is rotated by an orthogonal matrix R(φ), so the gradient is
// Rᵀ(φ) dy = R(−φ) dy: the same rotation by minus the angle, in place on the gradient.
//
//   (d0, d1) ← (d0 cos φ + d1 sin φ,  −d0 sin φ + d1 cos φ)
//
// dx: [T, nHeads*hd], the gradient of rope's output, turned into that of its input; freqs: [hd/2]
export function ropeBackward(dx: Float32Array, T: number, nHeads: number, hd: number, pos0: number, freqs: Float64Array): void {
  rotatePairs(dx, T, nHeads, hd, pos0, freqs, -1);
}

// Rotates every pair (2i, 2i+1) of every head of row t by sign · (pos0 + t) · θ_i.
// x: [T, nHeads*hd], in place; sign: +1 forward, −1 backward
function rotatePairs(x: Float32Array, T: number, nHeads: number, hd: number, pos0: number, freqs: Float64Array, sign: 1 | -1): void {
  for (let t = 0; t < T; t++) {
    const pos = pos0 + t;
    for (let i = 0; i < hd / 2; i++) {
      const angle = pos * freqs[i];
      const cos = Math.cos(angle);
      const sin = sign * Math.sin(angle); // sin(−φ) = −sin φ, cos(−φ) = cos φ
      for (let h = 0; h < nHeads; h++) {
        const j = t * nHeads * hd + h * hd + 2 * i;
        const x0 = x[j];
        const x1 = x[j + 1];
        x[j] = x0 * cos - x1 * sin;
        x[j + 1] = x0 * sin + x1 * cos;
      }
    }
  }
}
