// Training: a forward pass over a batch that keeps what the backward needs, and the backward
// pass itself, written by hand as in the LLaMA paper (§2.4) and llm.c's train_gpt2.c:
// every op has a backward beside its forward, and the model's backward calls them in
// reverse data-flow order.
//
//   forward:  h = embed(tokens); per layer h += Attn(RMSNorm(h)); h += FFN(RMSNorm(h));
//             logits = RMSNorm(h) · Wclsᵀ; loss = mean cross-entropy
//   backward: the same, last op first; a residual h = h + f(h) sends dh both to f's input
//             (through f's backward, which adds into dh) and straight through.
//
// Dimension letters (llm.c's): B sequences of T tokens, BT = B·T rows; C dim, H hidden,
// V vocab, hd head dimension. Each sequence sits at positions 0..T-1 with no cache.
import { headDim, kvDim } from './config.js';
import { crossEntropy, crossEntropyBackward } from './cross-entropy.js';
import { embedding, embeddingBackward } from './embedding.js';
import { gradientArrays, trainableValues, zeroGradients, type LlamaGradients } from './gradients.js';
import type { Kernels, TrainingKernels } from './kernels.js';
import { modelRopeFrequencies } from './rope.js';
import { parameterSlots, type LlamaModel } from './weights.js';

// B sequences of T tokens, row-major [B, T], with next-token targets (IGNORE_INDEX = -1 skips one).
export interface Batch {
  tokens: ArrayLike<number>; // [B*T]
  targets: ArrayLike<number>; // [B*T]
  B: number;
  T: number;
}

// What one layer's backward reads, all [BT, ·] row-major.
export interface LayerActivations {
  input: Float32Array; // [BT, C] residual stream entering the layer
  xnAtt: Float32Array; // [BT, C] RMSNorm(input, attention_norm)
  q: Float32Array; // [BT, nHeads*hd] after RoPE
  k: Float32Array; // [BT, nKvHeads*hd] after RoPE
  v: Float32Array; // [BT, nKvHeads*hd]
  att: Float32Array; // [BT, nHeads*hd] attention output, the input of wo
  mid: Float32Array; // [BT, C] residual after the attention sub-layer
  xnFfn: Float32Array; // [BT, C] RMSNorm(mid, ffn_norm)
  gate: Float32Array; // [BT, H] W1 x, before silu
  up: Float32Array; // [BT, H] W3 x
  act: Float32Array; // [BT, H] silu(gate) ⊙ up, the input of w2
  output: Float32Array; // [BT, C] residual leaving the layer
}

export interface TrainActivations {
  batch: Batch;
  layerInputs: Float32Array[]; // L × [BT, C]: all a checkpointing backward keeps per layer
  layers: (LayerActivations | null)[]; // L; null where dropped, to be recomputed from layerInputs
  final: Float32Array; // [BT, C] residual stream after the last layer
  xnFinal: Float32Array; // [BT, C] RMSNorm(final, norm)
  logits: Float32Array; // [BT, V]
  loss: number;
}

export interface TrainForwardOptions {
  // Activation checkpointing (the paper's recomputation): keep only each layer's input and
  // rebuild the rest with layerForward during the backward. Same gradients, less memory.
  recompute?: boolean;
}

// Throws a clear error for batches or weights training cannot use.
function checkTrainable(model: LlamaModel, batch: Batch): void {
  const { B, T } = batch;
  if (!Number.isSafeInteger(B) || B <= 0 || !Number.isSafeInteger(T) || T <= 0) throw new Error(`training batch: B ${B} and T ${T} must be positive integers`);
  if (T > model.config.maxSeqLen) throw new Error(`training batch: T ${T} exceeds the model's context of ${model.config.maxSeqLen}`);
  if (batch.tokens.length !== B * T) throw new Error(`training batch: ${batch.tokens.length} tokens for B ${B} × T ${T}`);
  if (batch.targets.length !== B * T) throw new Error(`training batch: ${batch.targets.length} targets for B ${B} × T ${T}`);
  for (const slot of parameterSlots(model.config)) trainableValues(model.weights, slot); // throws for weights that are not f32
}

// One transformer block on [BT, C] rows, keeping every intermediate. The checkpointing seam:
// given only `input`, this rebuilds everything the layer's backward reads.
export function layerForward(model: LlamaModel, kernels: Kernels, l: number, input: Float32Array, B: number, T: number): LayerActivations {
  const { config: c } = model;
  const lw = model.weights.layers[l];
  const BT = B * T;
  const C = c.dim;
  const H = c.hiddenDim;
  const hd = headDim(c);
  const qDim = c.nHeads * hd;
  const kvD = kvDim(c);
  const a: LayerActivations = {
    input, xnAtt: new Float32Array(BT * C), q: new Float32Array(BT * qDim), k: new Float32Array(BT * kvD),
    v: new Float32Array(BT * kvD), att: new Float32Array(BT * qDim), mid: new Float32Array(BT * C),
    xnFfn: new Float32Array(BT * C), gate: new Float32Array(BT * H), up: new Float32Array(BT * H),
    act: new Float32Array(BT * H), output: new Float32Array(BT * C),
  };

  // Attention sub-layer; RoPE and attention see one sequence at a time (positions 0..T-1).
  kernels.rmsnorm(a.xnAtt, input, lw.attentionNorm, BT, C, c.normEps);
  kernels.matmul(a.q, a.xnAtt, lw.wq, BT);
  kernels.matmul(a.k, a.xnAtt, lw.wk, BT);
  kernels.matmul(a.v, a.xnAtt, lw.wv, BT);
  for (let b = 0; b < B; b++) {
    const q = a.q.subarray(b * T * qDim, (b + 1) * T * qDim);
    const k = a.k.subarray(b * T * kvD, (b + 1) * T * kvD);
    const v = a.v.subarray(b * T * kvD, (b + 1) * T * kvD);
    kernels.rope(q, T, c.nHeads, hd, 0, modelRopeFrequencies(c));
    kernels.rope(k, T, c.nKvHeads, hd, 0, modelRopeFrequencies(c));
    // The sequence's own k, v rows serve as a KV cache of exactly T positions.
    kernels.attention(a.att.subarray(b * T * qDim, (b + 1) * T * qDim), q, k, v, T, 0, c.nHeads, c.nKvHeads, hd);
  }
  kernels.matmul(a.mid, a.att, lw.wo, BT);
  for (let i = 0; i < BT * C; i++) a.mid[i] += input[i];

  // Feed-forward sub-layer.
  kernels.rmsnorm(a.xnFfn, a.mid, lw.ffnNorm, BT, C, c.normEps);
  kernels.matmul(a.gate, a.xnFfn, lw.w1, BT);
  kernels.matmul(a.up, a.xnFfn, lw.w3, BT);
  kernels.swiglu(a.act, a.gate, a.up, BT * H);
  kernels.matmul(a.output, a.act, lw.w2, BT);
  for (let i = 0; i < BT * C; i++) a.output[i] += a.mid[i];
  return a;
}

// The forward pass of training: logits for every row and the mean loss over the batch.
export function trainForward(model: LlamaModel, kernels: Kernels, batch: Batch, options: TrainForwardOptions = {}): TrainActivations {
  checkTrainable(model, batch);
  const { config: c, weights: w } = model;
  const BT = batch.B * batch.T;
  const C = c.dim;
  let h: Float32Array = new Float32Array(BT * C); // [BT, C] residual stream
  embedding(h, w.tokenEmbedding, batch.tokens, BT);
  const layerInputs: Float32Array[] = [];
  const layers: (LayerActivations | null)[] = [];
  for (let l = 0; l < c.nLayers; l++) {
    const a = layerForward(model, kernels, l, h, batch.B, batch.T);
    layerInputs.push(h);
    layers.push(options.recompute ? null : a);
    h = a.output;
  }
  const xnFinal = new Float32Array(BT * C); // [BT, C]
  kernels.rmsnorm(xnFinal, h, w.norm, BT, C, c.normEps);
  const logits = new Float32Array(BT * c.vocabSize); // [BT, V]
  kernels.matmul(logits, xnFinal, w.output, BT);
  const loss = crossEntropy(logits, batch.targets, BT, c.vocabSize);
  return { batch, layerInputs, layers, final: h, xnFinal, logits, loss };
}

// Adds d loss / d parameter into `grads` (zero them first for a fresh step, or keep them
// to accumulate over micro-batches). Reads the activations of trainForward.
export function backward(model: LlamaModel, kernels: TrainingKernels, acts: TrainActivations, grads: LlamaGradients): void {
  const { config: c, weights: w } = model;
  const { B, T } = acts.batch;
  const BT = B * T;
  const C = c.dim;
  const H = c.hiddenDim;
  const V = c.vocabSize;
  const hd = headDim(c);
  const qDim = c.nHeads * hd;
  const kvD = kvDim(c);

  const dlogits = new Float32Array(BT * V); // [BT, V]
  const dh = new Float32Array(BT * C); // [BT, C] gradient of the residual stream, carried down
  const dxn = new Float32Array(BT * C); // [BT, C] gradient of a normalized sub-layer input
  const datt = new Float32Array(BT * qDim); // [BT, nHeads*hd]
  const dq = new Float32Array(BT * qDim); // [BT, nHeads*hd]
  const dk = new Float32Array(BT * kvD); // [BT, nKvHeads*hd]
  const dv = new Float32Array(BT * kvD); // [BT, nKvHeads*hd]
  const dact = new Float32Array(BT * H); // [BT, H]
  const dgate = new Float32Array(BT * H); // [BT, H]
  const dup = new Float32Array(BT * H); // [BT, H]

  // Loss, classifier (into the embedding's gradient when shared), final norm.
  crossEntropyBackward(dlogits, acts.logits, acts.batch.targets, BT, V);
  kernels.matmulBackward(dxn, grads.output, dlogits, acts.xnFinal, w.output, BT);
  kernels.rmsnormBackward(dh, grads.norm, dxn, acts.final, w.norm, BT, C, c.normEps);

  for (let l = c.nLayers - 1; l >= 0; l--) {
    const lw = w.layers[l];
    const g = grads.layers[l];
    const a = acts.layers[l] ?? layerForward(model, kernels, l, acts.layerInputs[l], B, T);

    // Feed-forward: output = mid + W2(silu(W1 xn) ⊙ W3 xn), xn = RMSNorm(mid). dh is d output.
    dact.fill(0);
    kernels.matmulBackward(dact, g.w2, dh, a.act, lw.w2, BT);
    dgate.fill(0);
    dup.fill(0);
    kernels.swigluBackward(dgate, dup, dact, a.gate, a.up, BT * H);
    dxn.fill(0);
    kernels.matmulBackward(dxn, g.w1, dgate, a.xnFfn, lw.w1, BT);
    kernels.matmulBackward(dxn, g.w3, dup, a.xnFfn, lw.w3, BT);
    kernels.rmsnormBackward(dh, g.ffnNorm, dxn, a.mid, lw.ffnNorm, BT, C, c.normEps); // dh is now d mid

    // Attention: mid = input + Wo attention(rope(Wq xn), rope(Wk xn), Wv xn), xn = RMSNorm(input).
    datt.fill(0);
    kernels.matmulBackward(datt, g.wo, dh, a.att, lw.wo, BT);
    dq.fill(0);
    dk.fill(0);
    dv.fill(0);
    for (let b = 0; b < B; b++) {
      const qs = (x: Float32Array) => x.subarray(b * T * qDim, (b + 1) * T * qDim);
      const ks = (x: Float32Array) => x.subarray(b * T * kvD, (b + 1) * T * kvD);
      kernels.attentionBackward(qs(dq), ks(dk), ks(dv), qs(datt), qs(a.q), ks(a.k), ks(a.v), T, c.nHeads, c.nKvHeads, hd);
      kernels.ropeBackward(qs(dq), T, c.nHeads, hd, 0, modelRopeFrequencies(c));
      kernels.ropeBackward(ks(dk), T, c.nKvHeads, hd, 0, modelRopeFrequencies(c));
    }
    dxn.fill(0);
    kernels.matmulBackward(dxn, g.wq, dq, a.xnAtt, lw.wq, BT);
    kernels.matmulBackward(dxn, g.wk, dk, a.xnAtt, lw.wk, BT);
    kernels.matmulBackward(dxn, g.wv, dv, a.xnAtt, lw.wv, BT);
    kernels.rmsnormBackward(dh, g.attentionNorm, dxn, a.input, lw.attentionNorm, BT, C, c.normEps); // dh is now d input
  }

  embeddingBackward(grads.tokenEmbedding, dh, acts.batch.tokens, BT, C);
}

// Zeroes `grads`, then adds the gradient of the mean loss over `batches` (micro-batches of
// one step, all the same B and T): the same gradient as one batch holding them all, in a
// fraction of the activation memory (gradient accumulation). Returns that mean loss.
//
//   loss(big batch) = mean over its rows = (1/A) Σ_a loss(micro-batch a)   (equal-sized a)
//   so  grad = (1/A) Σ_a grad_a,  accumulated in float32.
export function lossAndGradients(
  model: LlamaModel, kernels: TrainingKernels, batches: Batch | readonly Batch[], grads: LlamaGradients, options: TrainForwardOptions = {},
): number {
  const micro = 'B' in batches ? [batches] : batches;
  if (micro.length === 0) throw new Error('lossAndGradients: no micro-batches');
  zeroGradients(grads);
  let lossSum = 0;
  for (const batch of micro) {
    const acts = trainForward(model, kernels, batch, options);
    backward(model, kernels, acts, grads); // adds into grads
    lossSum += acts.loss;
  }
  if (micro.length === 1) return lossSum;
  const scale = 1 / micro.length;
  for (const g of gradientArrays(grads)) for (let i = 0; i < g.length; i++) g[i] *= scale;
  return lossSum * scale;
}
