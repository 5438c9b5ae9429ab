/// <reference types="@webgpu/types" />
// Training on the GPU: the loss, every parameter's gradient and AdamW steps for one sequence
// of T tokens (B = 1, positions 0..T-1), with the parameters, their gradients and Adam's
// moments, and every activation, in GPU buffers. The data flow is reference/train-model.ts
// (trainForward keeping every layer's activations, then backward, last op first) and
// src/train/step.ts (global-norm clipping at 1.0, then AdamW), op for op, each op a shader
// of shaders.ts or shaders-train.ts. One command buffer records the forward and the backward;
// the only readbacks are the T per-row losses and, for clipping, one sum of squares per
// parameter (the global norm is summed over parameters in float64 on the CPU).
import { LLAMA_ADAMW, type AdamWConfig } from '../../../reference/adamw.js';
import { headDim, kvDim } from '../../../reference/config.js';
import { IGNORE_INDEX } from '../../../reference/cross-entropy.js';
import { trainableValues } from '../../../reference/gradients.js';
import { modelRopeFrequencies } from '../../../reference/rope.js';
import { parameterShape, parameterSlots, type LayerField, type LlamaModel, type ParameterSlot } from '../../../reference/weights.js';
import type { DeviceTraining } from '../../conform/dump.js';
import type { TensorToWrite } from '../../formats/safetensors.js';
import { Recorder } from './gpu.js';
import { GpuTrainOps } from './ops-train.js';
import { GpuOps, ropeTable, type GpuWeight } from './ops.js';

// One trainable tensor on the GPU, in Meta's order (parameterSlots).
export interface GpuParameter {
  slot: ParameterSlot;
  shape: number[];
  n: number;
  decay: boolean; // weight decay for matrices and embeddings, not norm gains
  value: GPUBuffer; grad: GPUBuffer; m: GPUBuffer; v: GPUBuffer;
}

type Acts = Record<'input' | 'xnAtt' | 'q' | 'k' | 'v' | 'att' | 'mid' | 'xnFfn' | 'gate' | 'up' | 'act' | 'output', GPUBuffer>;

export class GpuTrainer {
  readonly params: GpuParameter[];
  private readonly t: GpuTrainOps;
  private readonly acts: Acts[]; // per layer, as reference/train-model.ts LayerActivations
  private readonly buf: Record<
    'final' | 'xnFinal' | 'logits' | 'dlogits' | 'loss' | 'tokens' | 'targets' | 'rope' | 'rinv' | 'probs' | 'dscores' |
    'dh' | 'dxn' | 'datt' | 'dq' | 'dk' | 'dv' | 'dact' | 'dgate' | 'dup' | 'sums', GPUBuffer>;
  private readonly step: GPUBuffer;
  private stepsTaken = 0;

  // Uploads the model's (f32) parameters; T: the sequence length of every batch it trains on.
  constructor(ops: GpuOps, readonly model: LlamaModel, readonly T: number, readonly adamwConfig: AdamWConfig = LLAMA_ADAMW, readonly maxGradNorm = 1.0) {
    const c = model.config;
    const gpu = ops.gpu;
    this.t = new GpuTrainOps(ops);
    if (!Number.isInteger(T) || T < 1 || T > c.maxSeqLen) throw new Error(`WebGPU training: T ${T} must be 1..${c.maxSeqLen}`);
    this.params = parameterSlots(c).map((slot) => {
      const values = trainableValues(model.weights, slot); // throws for weights that are not f32
      const shape = parameterShape(c, slot.field);
      const f = (what: string) => gpu.storage(`${what} of ${slot.name}`, values.length * 4);
      return { slot, shape, n: values.length, decay: shape.length === 2, value: gpu.upload(slot.name, values), grad: f('gradient'), m: f('Adam m'), v: f('Adam v') };
    });
    const C = c.dim;
    const H = c.hiddenDim;
    const hd = headDim(c);
    const qD = c.nHeads * hd;
    const kvD = kvDim(c);
    const f = (name: string, floats: number) => gpu.storage(name, floats * 4);
    this.acts = Array.from({ length: c.nLayers }, (_, l) => {
      const a = (name: string, width: number) => f(`layer ${l} ${name}`, T * width);
      return {
        input: a('input', C), xnAtt: a('xnAtt', C), q: a('q', qD), k: a('k', kvD), v: a('v', kvD), att: a('att', qD),
        mid: a('mid', C), xnFfn: a('xnFfn', C), gate: a('gate', H), up: a('up', H), act: a('act', H), output: a('output', C),
      };
    });
    this.buf = {
      final: f('final', T * C), xnFinal: f('xnFinal', T * C), logits: f('logits', T * c.vocabSize), dlogits: f('dlogits', T * c.vocabSize),
      loss: f('loss rows', T), tokens: f('tokens', T), targets: f('targets', T), rope: gpu.upload('rope table', ropeTable(T, modelRopeFrequencies(c))),
      rinv: f('rmsnorm r', T), probs: f('attention probabilities', T * c.nHeads * T), dscores: f('attention score gradients', T * c.nHeads * T),
      dh: f('dh', T * C), dxn: f('dxn', T * C), datt: f('datt', T * qD), dq: f('dq', T * qD), dk: f('dk', T * kvD), dv: f('dv', T * kvD),
      dact: f('dact', T * H), dgate: f('dgate', T * H), dup: f('dup', T * H), sums: f('gradient sums of squares', this.params.length),
    };
    this.step = ops.step(T, 0);
  }

  private param(field: LayerField | 'tokenEmbedding' | 'norm' | 'output', layer: number | null = null): GpuParameter {
    const shared = field === 'output' && this.model.config.sharedClassifier; // the classifier is the embedding
    const want = shared ? 'tokenEmbedding' : field;
    return this.params.find((p) => p.slot.field === want && p.slot.layer === layer)!;
  }

  private weight(field: LayerField | 'output', layer: number | null = null): GpuWeight {
    const p = this.param(field, layer);
    return { name: p.slot.name, dtype: 'f32', rows: p.shape[0], cols: p.shape[1], parts: [{ buffer: p.value, row0: 0, rows: p.shape[0] }] };
  }

  // Clears every gradient, then adds d loss / d parameter for one sequence; resolves to the
  // mean loss (reference/train-model.ts lossAndGradients with one batch of B = 1).
  async lossAndGradients(tokens: ArrayLike<number>, targets: ArrayLike<number>): Promise<number> {
    const { T } = this;
    const c = this.model.config;
    if (tokens.length !== T || targets.length !== T) throw new Error(`WebGPU training: ${tokens.length} tokens and ${targets.length} targets for T ${T}`);
    let count = 0;
    for (let i = 0; i < T; i++) {
      if (!Number.isInteger(tokens[i]) || tokens[i] < 0 || tokens[i] >= c.vocabSize) throw new Error(`WebGPU training: token ${tokens[i]} at ${i} is outside the vocabulary of ${c.vocabSize}`);
      if (targets[i] === IGNORE_INDEX) continue;
      if (!Number.isInteger(targets[i]) || targets[i] < 0 || targets[i] >= c.vocabSize) throw new Error(`WebGPU training: target ${targets[i]} at ${i} is outside the vocabulary of ${c.vocabSize}`);
      count++;
    }
    const queue = this.t.gpu.device.queue;
    queue.writeBuffer(this.buf.tokens, 0, Uint32Array.from(tokens));
    queue.writeBuffer(this.buf.targets, 0, Int32Array.from(targets));
    const rec = new Recorder(this.t.gpu);
    for (const p of this.params) rec.clear(p.grad);
    this.recordForward(rec);
    this.recordBackward(rec, count);
    const rows = new Float32Array(await this.t.gpu.submitAndRead(rec.end(), this.buf.loss, 0, T * 4));
    if (count === 0) return 0;
    let sum = 0;
    for (let i = 0; i < T; i++) sum += rows[i]; // float64
    return sum / count;
  }

  // One optimizer step (src/train/step.ts trainStep): gradients, the global norm, clipping,
  // AdamW at learning rate lr. Returns the loss before the step and the norm before clipping.
  async trainStep(tokens: ArrayLike<number>, targets: ArrayLike<number>, lr: number): Promise<{ loss: number; gradNorm: number }> {
    if (!(lr >= 0) || !Number.isFinite(lr)) throw new Error(`adamw: learning rate must be a finite number ≥ 0, got ${lr}`);
    const loss = await this.lossAndGradients(tokens, targets);
    const rec = new Recorder(this.t.gpu);
    this.params.forEach((p, j) => this.t.sumOfSquares(rec, this.buf.sums, p.grad, p.n, j));
    const sums = new Float32Array(await this.t.gpu.submitAndRead(rec.end(), this.buf.sums, 0, this.params.length * 4));
    let ss = 0;
    for (const s of sums) ss += s;
    const gradNorm = Math.sqrt(ss);
    const coef = this.maxGradNorm / (gradNorm + 1e-6); // reference/clip.ts
    const step = ++this.stepsTaken;
    const { beta1, beta2, eps, weightDecay } = this.adamwConfig;
    const update = new Recorder(this.t.gpu);
    for (const p of this.params) {
      this.t.adamw(update, p.value, p.grad, p.m, p.v, p.n, {
        beta1, beta2, eps, stepSize: lr / (1 - beta1 ** step), vCorrection: Math.sqrt(1 - beta2 ** step),
        decay: p.decay ? 1 - lr * weightDecay : 1, clip: coef < 1 ? coef : 1,
      });
    }
    this.t.gpu.device.queue.submit([update.end().finish()]);
    return { loss, gradNorm };
  }

  // Every parameter's values, gradients or Adam moments, read back, in Meta's order.
  async read(what: 'value' | 'grad' | 'm' | 'v'): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (const p of this.params) {
      out.push(new Float32Array(await this.t.gpu.submitAndRead(this.t.gpu.device.createCommandEncoder(), p[what], 0, p.n * 4)));
    }
    return out;
  }

  // trainForward (reference/train-model.ts), keeping every layer's activations.
  private recordForward(rec: Recorder): void {
    const c = this.model.config;
    const { T, t, acts, buf, step } = this;
    const ops = t.ops;
    const C = c.dim;
    const hd = headDim(c);
    t.embedding(rec, acts[0].input, this.param('tokenEmbedding').value, buf.tokens, T, C);
    acts.forEach((a, l) => {
      if (l > 0) rec.copy(acts[l - 1].output, 0, a.input, 0, T * C * 4);
      ops.rmsnorm(rec, a.xnAtt, a.input, this.param('attentionNorm', l).value, T, C, c.normEps);
      ops.matmul(rec, a.q, a.xnAtt, this.weight('wq', l), T);
      ops.matmul(rec, a.k, a.xnAtt, this.weight('wk', l), T);
      ops.matmul(rec, a.v, a.xnAtt, this.weight('wv', l), T);
      ops.rope(rec, step, a.q, buf.rope, T, c.nHeads, hd);
      ops.rope(rec, step, a.k, buf.rope, T, c.nKvHeads, hd);
      // The sequence's own k, v rows serve as a KV cache of exactly T positions.
      ops.attention(rec, step, a.att, a.q, a.k, a.v, buf.probs, T, c.nHeads, c.nKvHeads, hd, T);
      ops.matmul(rec, a.mid, a.att, this.weight('wo', l), T);
      ops.add(rec, step, a.mid, a.input, T, C); // mid = input + wo · att
      ops.rmsnorm(rec, a.xnFfn, a.mid, this.param('ffnNorm', l).value, T, C, c.normEps);
      ops.matmul(rec, a.gate, a.xnFfn, this.weight('w1', l), T);
      ops.matmul(rec, a.up, a.xnFfn, this.weight('w3', l), T);
      rec.copy(a.gate, 0, a.act, 0, T * c.hiddenDim * 4);
      ops.swiglu(rec, step, a.act, a.up, T, c.hiddenDim); // act = silu(gate) ⊙ up, gate kept
      ops.matmul(rec, a.output, a.act, this.weight('w2', l), T);
      ops.add(rec, step, a.output, a.mid, T, C);
    });
    rec.copy(acts[acts.length - 1].output, 0, buf.final, 0, T * C * 4);
    ops.rmsnorm(rec, buf.xnFinal, buf.final, this.param('norm').value, T, C, c.normEps);
    ops.matmul(rec, buf.logits, buf.xnFinal, this.weight('output'), T);
  }

  // backward (reference/train-model.ts), last op first; gradients add into the cleared grads.
  private recordBackward(rec: Recorder, count: number): void {
    const c = this.model.config;
    const { T, t, acts, buf, step } = this;
    const C = c.dim;
    const H = c.hiddenDim;
    const hd = headDim(c);
    const eps = c.normEps;
    const g = (field: LayerField | 'tokenEmbedding' | 'norm' | 'output', l: number | null = null) => this.param(field, l).grad;
    const gain = (field: 'attentionNorm' | 'ffnNorm' | 'norm', l: number | null = null) => this.param(field, l).value;
    for (const b of [buf.dlogits, buf.dh, buf.dxn]) rec.clear(b);
    if (count > 0) t.crossEntropy(rec, buf.dlogits, buf.loss, buf.logits, buf.targets, T, c.vocabSize, count);
    else rec.clear(buf.loss);
    t.matmulBackward(rec, buf.dxn, g('output'), buf.dlogits, buf.xnFinal, this.weight('output'), T);
    t.rmsnormBackward(rec, buf.dh, g('norm'), buf.dxn, buf.final, gain('norm'), buf.rinv, T, C, eps);
    for (let l = c.nLayers - 1; l >= 0; l--) {
      const a = acts[l];
      // Feed-forward: output = mid + W2(silu(W1 xn) ⊙ W3 xn), xn = RMSNorm(mid); dh is d output.
      for (const b of [buf.dact, buf.dgate, buf.dup, buf.dxn]) rec.clear(b);
      t.matmulBackward(rec, buf.dact, g('w2', l), buf.dh, a.act, this.weight('w2', l), T);
      t.swigluBackward(rec, buf.dgate, buf.dup, buf.dact, a.gate, a.up, T * H);
      t.matmulBackward(rec, buf.dxn, g('w1', l), buf.dgate, a.xnFfn, this.weight('w1', l), T);
      t.matmulBackward(rec, buf.dxn, g('w3', l), buf.dup, a.xnFfn, this.weight('w3', l), T);
      t.rmsnormBackward(rec, buf.dh, g('ffnNorm', l), buf.dxn, a.mid, gain('ffnNorm', l), buf.rinv, T, C, eps); // dh is now d mid
      // Attention: mid = input + Wo attention(rope(Wq xn), rope(Wk xn), Wv xn), xn = RMSNorm(input).
      for (const b of [buf.datt, buf.dq, buf.dk, buf.dv, buf.dxn]) rec.clear(b);
      t.matmulBackward(rec, buf.datt, g('wo', l), buf.dh, a.att, this.weight('wo', l), T);
      t.attentionBackward(rec, buf.dq, buf.dk, buf.dv, buf.datt, a.q, a.k, a.v, buf.probs, buf.dscores, T, c.nHeads, c.nKvHeads, hd);
      t.ropeBackward(rec, step, buf.dq, buf.rope, T, c.nHeads, hd);
      t.ropeBackward(rec, step, buf.dk, buf.rope, T, c.nKvHeads, hd);
      t.matmulBackward(rec, buf.dxn, g('wq', l), buf.dq, a.xnAtt, this.weight('wq', l), T);
      t.matmulBackward(rec, buf.dxn, g('wk', l), buf.dk, a.xnAtt, this.weight('wk', l), T);
      t.matmulBackward(rec, buf.dxn, g('wv', l), buf.dv, a.xnAtt, this.weight('wv', l), T);
      t.rmsnormBackward(rec, buf.dh, g('attentionNorm', l), buf.dxn, a.input, gain('attentionNorm', l), buf.rinv, T, C, eps); // dh is now d input
    }
    t.embeddingBackward(rec, g('tokenEmbedding'), buf.dh, buf.tokens, T, C);
  }
}

// The golden/ training tensors computed on the GPU (src/conform/dump.ts DeviceTraining):
// grad.<param> of one batch, and dumpAdamW's weights, moments, losses and norms, each from a
// fresh trainer holding the model's weights as they are (the model itself is not changed).
export function gpuTraining(ops: GpuOps, model: LlamaModel): DeviceTraining {
  const tensor = (p: GpuParameter, data: Float32Array): TensorToWrite => ({ dtype: 'F32', shape: p.shape, data });
  return {
    async gradients(tokens, targets) {
      const trainer = new GpuTrainer(ops, model, tokens.length);
      await trainer.lossAndGradients(tokens, targets);
      const grads = await trainer.read('grad');
      return trainer.params.map((p, j) => [`grad.${p.slot.name}`, tensor(p, grads[j])]);
    },
    async adamw(tokens, targets, o) {
      const trainer = new GpuTrainer(ops, model, tokens.length);
      const out: Array<[string, TensorToWrite]> = [];
      const losses = new Float64Array(o.steps);
      const norms = new Float64Array(o.steps);
      for (let step = 1; step <= o.steps; step++) {
        const r = await trainer.trainStep(tokens, targets, o.lr);
        losses[step - 1] = r.loss;
        norms[step - 1] = r.gradNorm;
        if (!o.savedSteps.includes(step)) continue;
        for (const [prefix, what] of [['', 'value'], ['m.', 'm'], ['v.', 'v']] as const) {
          const arrays = await trainer.read(what);
          trainer.params.forEach((p, j) => out.push([`adamw.${step}.${prefix}${p.slot.name}`, tensor(p, arrays[j])]));
        }
      }
      out.push(['adamw.losses', { dtype: 'F64', shape: [o.steps], data: losses }]);
      out.push(['adamw.grad_norms', { dtype: 'F64', shape: [o.steps], data: norms }]);
      return out;
    },
  };
}
