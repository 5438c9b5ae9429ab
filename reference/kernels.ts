// The heavy operations of a LLaMA forward pass, behind one small interface. The model
// (model.ts) calls only these; the readable TypeScript in this folder is the first
// implementation (ts-kernels.ts), WASM SIMD and WebGPU are others. Every buffer is a
// Float32Array of activations except the weights, which keep their file storage type.
//
// Dimension letters: T tokens in this call, C model width, K input width, N output width,
// H feed-forward width, S positions in the KV cache, hd head dimension.
import type { KVCache, Trace } from './model.js';
import type { WeightTensor } from './tensor.js';
import type { LlamaModel } from './weights.js';

export interface ForwardAsyncOptions {
  allLogits?: boolean; // logits for every position (default: the last one only)
  trace?: Trace; // every intermediate tensor, as forward() in model.ts gives them
}

export interface Kernels {
  readonly name: string;

  // out[T, N] = x[T, K] · Wᵀ, with W stored [N, K]
  matmul(out: Float32Array, x: Float32Array, w: WeightTensor, T: number): void;

  // out[t] = x[t] / sqrt(mean(x[t]²) + eps) ⊙ gain, for each of T rows of width C
  rmsnorm(out: Float32Array, x: Float32Array, gain: Float32Array, T: number, C: number, eps: number): void;

  // Rotates adjacent pairs (2i, 2i+1) of each head in place by angle pos·freqs[i], for T
  // rows at positions pos0 .. pos0+T-1; x is [T, nHeads*hd], freqs [hd/2] (rope.ts:
  // θ^(-2i/hd), divided by the model's RoPE scaling factors).
  rope(x: Float32Array, T: number, nHeads: number, hd: number, pos0: number, freqs: Float64Array): void;

  // Causal attention of T queries at positions pos0.. over the cache rows 0..pos0+t.
  // q, out: [T, nHeads*hd]; kCache, vCache: [S, nKvHeads*hd] with the T new rows already written.
  // Query head h reads key/value head floor(h / (nHeads / nKvHeads)).
  attention(
    out: Float32Array, q: Float32Array, kCache: Float32Array, vCache: Float32Array,
    T: number, pos0: number, nHeads: number, nKvHeads: number, hd: number,
  ): void;

  // out[i] = silu(gate[i]) * up[i] for i < n, silu(x) = x·σ(x)
  swiglu(out: Float32Array, gate: Float32Array, up: Float32Array, n: number): void;

  // Optional: a zeroed buffer the backend reads and writes without copies (WASM: a view of
  // its linear memory). The KV cache lives there, since attention reads all of it each call.
  allocate?(length: number): Float32Array;

  // Optional: the whole forward pass at once, for a backend whose data lives elsewhere and
  // comes back asynchronously (WebGPU: one command buffer a call, the logits read once).
  // Same contract as forward() in model.ts; runForward() there uses it when present.
  forwardAsync?(model: LlamaModel, cache: KVCache, tokens: ArrayLike<number>, pos0: number, options?: ForwardAsyncOptions): Promise<Float32Array>;
}

// The backward passes training needs, beside the forward ones (llm.c style). Every gradient
// buffer ACCUMULATES (+=) so that a tensor used twice sums both uses; the caller zeroes them.
// Only ropeBackward works in place. Training weights are f32.
export interface TrainingKernels extends Kernels {
  // dx[T, K] += dout[T, N] · W;  dW[N, K] += doutᵀ · x[T, K]
  matmulBackward(dx: Float32Array, dw: Float32Array, dout: Float32Array, x: Float32Array, w: WeightTensor, T: number): void;

  // dx[T, C] and dgain[C] from dout[T, C], given the forward's input x and gain
  rmsnormBackward(
    dx: Float32Array, dgain: Float32Array, dout: Float32Array, x: Float32Array, gain: Float32Array,
    T: number, C: number, eps: number,
  ): void;

  // Rotates the gradient of rope's output back by −angle, in place; dx is [T, nHeads*hd].
  ropeBackward(dx: Float32Array, T: number, nHeads: number, hd: number, pos0: number, freqs: Float64Array): void;

  // Causal attention over one sequence at positions 0..T-1 (k, v are its own [T, nKvHeads*hd]
  // rows): dq[T, nHeads*hd], dk, dv [T, nKvHeads*hd] from dout [T, nHeads*hd].
  attentionBackward(
    dq: Float32Array, dk: Float32Array, dv: Float32Array, dout: Float32Array,
    q: Float32Array, k: Float32Array, v: Float32Array,
    T: number, nHeads: number, nKvHeads: number, hd: number,
  ): void;

  // dgate[n], dup[n] from dout[n] of out = silu(gate) ⊙ up
  swigluBackward(dgate: Float32Array, dup: Float32Array, dout: Float32Array, gate: Float32Array, up: Float32Array, n: number): void;
}
