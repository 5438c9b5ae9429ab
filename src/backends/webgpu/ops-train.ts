/// <reference types="@webgpu/types" />
// Training's operations on the GPU: each records its shader(s) (shaders-train.ts) into a
// Recorder, with the shapes of reference/kernels.ts TrainingKernels. Gradients accumulate
// (+=) into buffers the caller cleared. Weights are f32 GpuWeights of one part (training
// keeps every parameter in one binding).
import { grid, Recorder } from './gpu.js';
import { GpuOps, type GpuWeight } from './ops.js';
import {
  ADAMW, ATTENTION_BACKWARD_KV, ATTENTION_BACKWARD_QUERY, CROSS_ENTROPY, EMBEDDING, EMBEDDING_BACKWARD,
  MATMUL_BACKWARD_INPUT, MATMUL_BACKWARD_WEIGHT, RMSNORM_BACKWARD_GAIN, RMSNORM_BACKWARD_INPUT, ROPE_BACKWARD,
  SUM_OF_SQUARES, SWIGLU_BACKWARD,
} from './shaders-train.js';

// AdamW's per-step scalars (reference/adamw.ts), computed by the caller in float64.
export interface AdamWStepParams {
  beta1: number; beta2: number; eps: number;
  stepSize: number; // lr / (1 − β1ᵗ)
  vCorrection: number; // √(1 − β2ᵗ)
  decay: number; // 1 − lr·wd, or 1 for a norm gain
  clip: number; // global-norm clipping factor, 1 when within bounds
}

export class GpuTrainOps {
  readonly gpu;

  constructor(readonly ops: GpuOps) {
    this.gpu = ops.gpu;
  }

  private f32Weight(w: GpuWeight): GPUBuffer {
    if (w.dtype !== 'f32' || w.parts.length !== 1) throw new Error(`WebGPU training needs f32 weights in one binding; ${w.name} is ${w.dtype} in ${w.parts.length} parts`);
    return w.parts[0].buffer;
  }

  // dx[T, K] += dout[T, N] · W;  dW[N, K] += doutᵀ · x[T, K]   (matmulBackward)
  matmulBackward(rec: Recorder, dx: GPUBuffer, dw: GPUBuffer, dout: GPUBuffer, x: GPUBuffer, w: GpuWeight, T: number): void {
    const p = this.ops.params([T, w.rows, w.cols]);
    this.ops.run(rec, `matmul backward (input) ${w.name}`, MATMUL_BACKWARD_INPUT, [p, dout, this.f32Weight(w), dx], grid(this.gpu.limits, T * w.cols));
    this.ops.run(rec, `matmul backward (weight) ${w.name}`, MATMUL_BACKWARD_WEIGHT, [p, dout, x, dw], grid(this.gpu.limits, w.rows * w.cols));
  }

  // dx[T, C] += …, dgain[C] += …   (rmsnormBackward); rinv: scratch of T floats
  rmsnormBackward(
    rec: Recorder, dx: GPUBuffer, dgain: GPUBuffer, dout: GPUBuffer, x: GPUBuffer, gain: GPUBuffer, rinv: GPUBuffer,
    T: number, C: number, eps: number,
  ): void {
    this.ops.run(rec, 'rmsnorm backward (input)', RMSNORM_BACKWARD_INPUT, [this.ops.params([C, eps], [1]), dout, x, gain, dx, rinv], [T]);
    this.ops.run(rec, 'rmsnorm backward (gain)', RMSNORM_BACKWARD_GAIN, [this.ops.params([T, C]), dout, x, rinv, dgain], grid(this.gpu.limits, C));
  }

  // dx [T, nHeads*hd] rotated back in place (ropeBackward), table: ops.ts ropeTable
  ropeBackward(rec: Recorder, step: GPUBuffer, dx: GPUBuffer, table: GPUBuffer, T: number, nHeads: number, hd: number): void {
    this.ops.run(rec, 'rope backward', ROPE_BACKWARD, [step, this.ops.params([nHeads, hd]), table, dx], grid(this.gpu.limits, (T * nHeads * hd) / 2));
  }

  // dq, dk, dv += … from dout (attentionBackward); probs, dscores: scratch of T·nHeads·T floats
  attentionBackward(
    rec: Recorder, dq: GPUBuffer, dk: GPUBuffer, dv: GPUBuffer, dout: GPUBuffer, q: GPUBuffer, k: GPUBuffer, v: GPUBuffer,
    probs: GPUBuffer, dscores: GPUBuffer, T: number, nHeads: number, nKvHeads: number, hd: number,
  ): void {
    const pq = this.ops.params([T, nHeads, nKvHeads, hd, 1 / Math.sqrt(hd)], [4]);
    this.ops.run(rec, 'attention backward (query)', ATTENTION_BACKWARD_QUERY, [pq, dout, q, k, v, probs, dscores, dq], [nHeads, T]);
    const pkv = this.ops.params([T, nHeads, nKvHeads, hd]);
    this.ops.run(rec, 'attention backward (key, value)', ATTENTION_BACKWARD_KV, [pkv, dout, q, probs, dscores, dk, dv], grid(this.gpu.limits, T * nKvHeads * hd));
  }

  // dgate, dup += … (swigluBackward), n values
  swigluBackward(rec: Recorder, dgate: GPUBuffer, dup: GPUBuffer, dout: GPUBuffer, gate: GPUBuffer, up: GPUBuffer, n: number): void {
    this.ops.run(rec, 'swiglu backward', SWIGLU_BACKWARD, [this.ops.params([n]), dout, gate, up, dgate, dup], grid(this.gpu.limits, n));
  }

  // loss[t] per row and dlogits[T, V] += … (crossEntropy, crossEntropyBackward); targets: i32,
  // count: the targets not ignored (> 0)
  crossEntropy(rec: Recorder, dlogits: GPUBuffer, loss: GPUBuffer, logits: GPUBuffer, targets: GPUBuffer, T: number, V: number, count: number): void {
    this.ops.run(rec, 'cross-entropy', CROSS_ENTROPY, [this.gpu.uniform([V, 1 / count], [1]), logits, targets, dlogits, loss], [T]);
  }

  // h[T, C] = table[tokens]   (embedding); tokens: u32
  embedding(rec: Recorder, h: GPUBuffer, table: GPUBuffer, tokens: GPUBuffer, T: number, C: number): void {
    this.ops.run(rec, 'embedding', EMBEDDING, [this.ops.params([T, C]), table, tokens, h], grid(this.gpu.limits, T * C));
  }

  // dtable[tokens[t]] += dh[t]   (embeddingBackward)
  embeddingBackward(rec: Recorder, dtable: GPUBuffer, dh: GPUBuffer, tokens: GPUBuffer, T: number, C: number): void {
    this.ops.run(rec, 'embedding backward', EMBEDDING_BACKWARD, [this.ops.params([T, C]), dh, tokens, dtable], grid(this.gpu.limits, C));
  }

  // sums[j] = Σ grad²
  sumOfSquares(rec: Recorder, sums: GPUBuffer, grad: GPUBuffer, n: number, j: number): void {
    this.ops.run(rec, 'gradient sum of squares', SUM_OF_SQUARES, [this.ops.params([n, j]), grad, sums], [1]);
  }

  // One AdamW step on n values (adamwStep)
  adamw(rec: Recorder, value: GPUBuffer, grad: GPUBuffer, m: GPUBuffer, v: GPUBuffer, n: number, s: AdamWStepParams): void {
    const u = this.gpu.uniform([n, s.beta1, s.beta2, s.eps, s.stepSize, s.vCorrection, s.decay, s.clip], [1, 2, 3, 4, 5, 6, 7]);
    this.ops.run(rec, 'adamw', ADAMW, [u, grad, value, m, v], grid(this.gpu.limits, n));
  }
}
