// Turning logits into the next token. The order follows common practice (llama.cpp):
//   repetition penalty → (temperature 0: argmax) → top-k → temperature → softmax → top-p → min-p → draw
// The paper samples with nucleus (top-p) sampling; the others are what users expect.
import { Rng } from '../../reference/random.js';

export interface SamplerOptions {
  temperature?: number; // 0 = greedy (argmax); default 1
  topK?: number; // keep the k most likely tokens; 0 = off
  topP?: number; // keep the smallest set whose probability reaches p; 1 = off (the default here; generate's is 0.9)
  minP?: number; // drop tokens below minP × the top probability; 0 = off
  repetitionPenalty?: number; // CTRL's penalty on recently seen tokens; 1 = off
  repetitionWindow?: number; // how many recent tokens the penalty looks at (default 64)
  seed?: number; // default: a random seed
}

export class Sampler {
  readonly temperature: number;
  readonly topK: number;
  readonly topP: number;
  readonly minP: number;
  readonly repetitionPenalty: number;
  readonly repetitionWindow: number;
  private rng: Rng;

  constructor(options: SamplerOptions = {}) {
    this.temperature = options.temperature ?? 1;
    this.topK = options.topK ?? 0;
    this.topP = options.topP ?? 1;
    this.minP = options.minP ?? 0;
    this.repetitionPenalty = options.repetitionPenalty ?? 1;
    this.repetitionWindow = options.repetitionWindow ?? 64;
    this.rng = new Rng(options.seed ?? (Math.random() * 2 ** 32) >>> 0);
    check(this.temperature >= 0 && Number.isFinite(this.temperature), `temperature must be ≥ 0, got ${this.temperature}`);
    check(Number.isInteger(this.topK) && this.topK >= 0, `top-k must be a non-negative integer, got ${this.topK}`);
    check(this.topP > 0 && this.topP <= 1, `top-p must be in (0, 1], got ${this.topP}`);
    check(this.minP >= 0 && this.minP <= 1, `min-p must be in [0, 1], got ${this.minP}`);
    check(this.repetitionPenalty > 0 && Number.isFinite(this.repetitionPenalty), `repetition penalty must be > 0, got ${this.repetitionPenalty}`);
  }

  // logits: [V], modified in place by the penalty; history: tokens so far (prompt included)
  sample(logits: Float32Array, history: readonly number[] = []): number {
    if (this.repetitionPenalty !== 1) applyRepetitionPenalty(logits, history, this.repetitionPenalty, this.repetitionWindow);
    if (this.temperature === 0) return argmax(logits);

    return drawFrom(truncate(logits, this), this.rng.nextFloat());
  }
}

// The distribution a sampler draws from: candidate ids by decreasing logit (top-k cuts the
// list), their softmax at the temperature, and how many of them top-p and min-p keep. One
// function for the sampler and for views that show the reshaping (src/explain), so the two
// cannot disagree.
export interface Truncation {
  ids: Uint32Array; // candidates, most likely first
  probs: Float64Array; // softmax(logit / temperature) over the candidates (before top-p and min-p)
  n: number; // the first n candidates are kept
}

export function truncate(logits: Float32Array, o: { temperature: number; topK: number; topP: number; minP: number }): Truncation {
  const ids = sortedCandidates(logits, o.topK);
  const probs = softmaxOver(logits, ids, o.temperature);
  let n = ids.length;
  if (o.topP < 1) n = nucleusSize(probs, n, o.topP);
  if (o.minP > 0) {
    const floor = o.minP * probs[0];
    let m = 1;
    while (m < n && probs[m] >= floor) m++;
    n = m;
  }
  return { ids, probs, n };
}

// One of the kept candidates, for a uniform draw u in [0, 1).
export function drawFrom(t: Truncation, u: number): number {
  return draw(t.ids, t.probs, t.n, u);
}

export function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

// CTRL (Keskar et al. 2019): divide a positive logit by the penalty, multiply a negative one,
// so a seen token always becomes less likely whatever its sign.
export function applyRepetitionPenalty(logits: Float32Array, history: readonly number[], penalty: number, window: number): void {
  const seen = new Set(history.slice(Math.max(0, history.length - window)));
  for (const t of seen) {
    if (t < 0 || t >= logits.length) continue;
    logits[t] = logits[t] > 0 ? logits[t] / penalty : logits[t] * penalty;
  }
}

// Token ids by decreasing logit (ties: lower id first); only the first k when k > 0.
function sortedCandidates(logits: Float32Array, k: number): Uint32Array {
  const ids = new Uint32Array(logits.length);
  for (let i = 0; i < ids.length; i++) ids[i] = i;
  ids.sort((a, b) => logits[b] - logits[a] || a - b);
  return k > 0 && k < ids.length ? ids.subarray(0, k) : ids;
}

// probs[i] = softmax(logits[ids[i]] / temperature) over the candidates
function softmaxOver(logits: Float32Array, ids: Uint32Array, temperature: number): Float64Array {
  const probs = new Float64Array(ids.length);
  const max = logits[ids[0]];
  let sum = 0;
  for (let i = 0; i < ids.length; i++) {
    probs[i] = Math.exp((logits[ids[i]] - max) / temperature);
    sum += probs[i];
  }
  for (let i = 0; i < ids.length; i++) probs[i] /= sum;
  return probs;
}

// The smallest prefix of the (sorted) candidates whose probability reaches p.
function nucleusSize(probs: Float64Array, n: number, p: number): number {
  let cumulative = 0;
  for (let i = 0; i < n; i++) {
    cumulative += probs[i];
    if (cumulative >= p) return i + 1;
  }
  return n;
}

// Draws one of the first n candidates in proportion to probs (renormalized over them).
function draw(ids: Uint32Array, probs: Float64Array, n: number, u: number): number {
  let total = 0;
  for (let i = 0; i < n; i++) total += probs[i];
  let cumulative = 0;
  const target = u * total;
  for (let i = 0; i < n; i++) {
    cumulative += probs[i];
    if (target < cumulative) return ids[i];
  }
  return ids[n - 1];
}

function check(ok: boolean, message: string): void {
  if (!ok) throw new Error(`sampler: ${message}`);
}

// A token and its probability under the model (softmax of the raw logits, temperature 1).
export interface TokenProbability {
  token: number;
  prob: number;
}

// The k most likely tokens of the model's distribution, most likely first (ties: lower id).
// What --show-probs prints and the explorer shows on hover: the model's own probabilities,
// before any sampling setting reshapes them.
export function topProbabilities(logits: Float32Array, k: number): TokenProbability[] {
  if (!Number.isInteger(k) || k < 1) throw new Error(`top probabilities: k must be a positive integer, got ${k}`);
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  const ids = sortedCandidates(logits, Math.min(k, logits.length));
  return Array.from(ids, (token) => ({ token, prob: Math.exp(logits[token] - max) / sum }));
}
