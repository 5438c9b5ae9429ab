// The WASM SIMD training kernels: the TrainingKernels interface (reference/kernels.ts) over
// the AssemblyScript kernels of assembly/backward.ts (with gemm.ts, exp.ts and
// attention-sequence.ts), checked against the readable TypeScript ones in
// tests/wasm-training.test.ts. The matrix products and attention are split across worker
// threads (pool.ts, the forward kernels' pool and protocol) with the same bits at any thread count.
//
// Built on the forward WASM kernels (kernels.ts): rmsnorm and rope are theirs, and the
// matmul of quantized weights. Ours:
//   - the f32 matmul, for two reasons: training shapes have many rows (B·T, e.g. 1024),
//     which the blocked product of gemm.ts handles several times faster; and training
//     changes its weights after every step, while the forward kernels keep a copy of each
//     weight they have seen (weights.ts) — here an f32 weight is an ordinary input, read in
//     place when it lives in WASM memory and copied in otherwise;
//   - swiglu, with an f32x4 exp instead of the scalar f64 one: training evaluates millions
//     of exponentials a step;
//   - attention over a whole sequence from position 0 (training's case), as matrix products
//     with the same f32x4 exp (assembly/attention-sequence.ts).
//
// Our instance of the kernels module runs over the forward kernels' (first) memory, so
// both see the same views. Data movement per call is the forward kernels' rule: an array
// that is a view of that memory (allocate(), placeModel()) is used in place; any other is
// copied into a scratch block and, if written, copied back.
import type { TrainingKernels } from '../../../reference/kernels.js';
import type { WeightTensor } from '../../../reference/tensor.js';
import type { LayerWeights, LlamaModel } from '../../../reference/weights.js';
import { createWasmKernels, DEFAULT_MIN_PARALLEL_WORK, defaultThreads, type WasmKernels, type WasmKernelsOptions } from './kernels.js';
import type { KernelExports } from './abi.js';
import { compileKernels, instantiateKernels } from './module.js';
import { WorkerPool } from './pool.js';
import { Frame, ScratchBlock, type FrameHost } from './training-frame.js';
import { attentionScratch, Op } from './worker-ops.js';

export interface WasmTrainingKernels extends TrainingKernels {
  readonly name: 'wasm';
  readonly forward: WasmKernels; // the forward kernels this builds on (on one thread)
  readonly memory: WebAssembly.Memory;
  readonly threads: number; // threads the matrix products and attention run on
  // A zeroed Float32Array that is a view of WASM memory, used by every kernel in place.
  // Never freed: allocate once (parameters, gradients, optimizer state), reuse every step.
  allocate(length: number): Float32Array;
  // A copy of the model whose f32 parameters (matrices and norm gains) are views of WASM
  // memory, so that neither the kernels nor the optimizer copy them; a shared classifier
  // stays one tensor. Other storage types are kept as they are (they do not train).
  placeModel(model: LlamaModel): LlamaModel;
  // Stops the worker threads.
  close(): Promise<void>;
}

// Below this many rows the forward kernels' row-at-a-time product wins: the blocked one
// first transposes the whole weight.
const BLOCKED_MIN_ROWS = 8;

function positiveInts(kernel: string, values: Record<string, number>): void {
  for (const [name, v] of Object.entries(values)) {
    if (!Number.isSafeInteger(v) || v <= 0) throw new Error(`wasm ${kernel}: ${name} must be a positive integer, got ${v}`);
  }
}

function f32Weight(kernel: string, w: WeightTensor): Float32Array {
  if (w.dtype !== 'f32') throw new Error(`wasm ${kernel}: training needs f32 weights, got ${w.dtype} [${w.rows}, ${w.cols}]`);
  positiveInts(kernel, { 'weight rows': w.rows, 'weight cols': w.cols });
  return w.data as Float32Array;
}

function checkHeads(kernel: string, nHeads: number, nKvHeads: number, hd: number): void {
  positiveInts(kernel, { nHeads, nKvHeads, hd });
  if (nHeads % nKvHeads !== 0) throw new Error(`wasm ${kernel}: nHeads ${nHeads} is not a multiple of nKvHeads ${nKvHeads}`);
}

class WasmTrainingBackend implements WasmTrainingKernels, FrameHost {
  readonly name = 'wasm' as const;
  readonly scratch: ScratchBlock;
  private readonly ownBuffers = new WeakSet<ArrayBufferLike>(); // buffers of our allocate() views
  private f32View = new Float32Array(0);

  constructor(
    readonly forward: WasmKernels,
    private readonly wasm: KernelExports,
    private readonly pool: WorkerPool | undefined,
    private readonly minParallelWork: number,
  ) {
    this.scratch = new ScratchBlock((floats) => this.allocate(floats));
  }

  get threads(): number {
    return this.pool?.threads ?? 1;
  }

  get memory(): WebAssembly.Memory {
    return this.forward.memory;
  }

  // Is `a` a view of WASM memory? Views made since the memory last grew share its current
  // buffer; older ones (a grow hands out a new SharedArrayBuffer) are known by ours.
  owns(a: ArrayBufferView): boolean {
    return a.buffer === this.memory.buffer || this.ownBuffers.has(a.buffer);
  }

  // The whole memory as floats, refreshed after a grow.
  f32(): Float32Array {
    const buffer = this.memory.buffer;
    if (this.f32View.buffer !== buffer) this.f32View = new Float32Array(buffer);
    return this.f32View;
  }

  allocate(length: number): Float32Array {
    const view = this.forward.allocate(length);
    this.ownBuffers.add(view.buffer);
    return view;
  }

  placeModel(model: LlamaModel): LlamaModel {
    const copies = new Map<object, unknown>(); // original -> its copy, so shared tensors stay shared
    const array = (a: Float32Array): Float32Array => {
      let copy = copies.get(a) as Float32Array | undefined;
      if (!copy) {
        copy = this.allocate(a.length);
        copy.set(a);
        copies.set(a, copy);
      }
      return copy;
    };
    const tensor = (w: WeightTensor): WeightTensor => {
      if (w.dtype !== 'f32') return w;
      let copy = copies.get(w) as WeightTensor | undefined;
      if (!copy) {
        copy = { dtype: 'f32', rows: w.rows, cols: w.cols, data: array(f32Weight('placeModel', w)) };
        copies.set(w, copy);
      }
      return copy;
    };
    const w = model.weights;
    const layers: LayerWeights[] = w.layers.map((lw) => ({
      attentionNorm: array(lw.attentionNorm), wq: tensor(lw.wq), wk: tensor(lw.wk), wv: tensor(lw.wv), wo: tensor(lw.wo),
      ffnNorm: array(lw.ffnNorm), w1: tensor(lw.w1), w2: tensor(lw.w2), w3: tensor(lw.w3),
    }));
    return {
      config: model.config,
      weights: { tokenEmbedding: tensor(w.tokenEmbedding), layers, norm: array(w.norm), output: tensor(w.output) },
    };
  }

  async close(): Promise<void> {
    await this.pool?.close();
    await this.forward.close();
  }

  // C[M, P] (+)= A[M, R] · B[R, P] (pointers), split across the threads when large enough.
  private gemm(c: number, a: number, b: number, M: number, R: number, P: number, accumulate: boolean): void {
    const acc = accumulate ? 1 : 0;
    if (this.pool && P > 8 && M * R * P >= this.minParallelWork) this.pool.run(Op.gemmF32, 0, [c, a, b, M, R, P, acc], this.wasm);
    else this.wasm.gemmF32(c, a, b, M, R, P, 0, P, acc);
  }

  // Attention forward or backward over one sequence: split by kv heads across the threads
  // when there are several and the work is large enough, each thread with its own scratch.
  private attentionJob(f: Frame, backward: boolean, tensors: number[], T: number, nHeads: number, nKvHeads: number, hd: number): void {
    const perThread = Math.ceil(attentionScratch(T, hd, backward) / 16) * 16; // floats, 64-byte multiples
    const parallel = this.pool !== undefined && nKvHeads > 1 && nHeads * T * T * hd >= this.minParallelWork;
    const threads = parallel ? this.threads : 1;
    const scratch = f.temp(threads * perThread); // threads × [attentionScratch]
    if (parallel) {
      const op = backward ? Op.attentionSequenceBackward : Op.attentionSequence;
      this.pool!.run(op, 0, [...tensors, scratch, T, nHeads, nKvHeads, hd, 4 * perThread], this.wasm);
    } else if (backward) {
      const [dq, dk, dv, dout, q, k, v] = tensors;
      const [tt, ht] = [4 * T * T, 4 * hd * T]; // bytes of a [T, T] and an [hd, T] matrix
      this.wasm.attentionSequenceBackward(dq, dk, dv, dout, q, k, v, scratch, scratch + tt, scratch + 2 * tt, scratch + 3 * tt, scratch + 3 * tt + ht, T, nHeads, nKvHeads, hd, 0, nKvHeads);
    } else {
      const [out, q, k, v] = tensors;
      this.wasm.attentionSequence(out, q, k, v, scratch, scratch + 4 * T * T, T, nHeads, nKvHeads, hd, 0, nKvHeads);
    }
  }

  private frame(kernel: string): Frame {
    return new Frame(this, kernel);
  }

  // --- forward -----------------------------------------------------------------------------

  matmul(out: Float32Array, x: Float32Array, w: WeightTensor, T: number): void {
    if (w.dtype !== 'f32') return this.forward.matmul(out, x, w, T); // quantized weights never train
    positiveInts('matmul', { T });
    const K = w.cols;
    const N = w.rows;
    const f = this.frame('matmul');
    const wPtr = f.input(f32Weight('matmul', w), N * K, 'w'); // [N, K]
    const xPtr = f.input(x, T * K, 'x'); // [T, K]
    const outPtr = f.output(out, T * N, 'out'); // [T, N]
    if (T < BLOCKED_MIN_ROWS) {
      this.wasm.matmulF32(outPtr, xPtr, wPtr, T, K, N, 0, N);
    } else {
      const wTPtr = f.temp(K * N); // [K, N] the weights transposed
      this.wasm.transposeF32(wTPtr, wPtr, N, K);
      this.gemm(outPtr, xPtr, wTPtr, T, K, N, false); // out = x · Wᵀ
    }
    f.finish();
  }

  rmsnorm(out: Float32Array, x: Float32Array, gain: Float32Array, T: number, C: number, eps: number): void {
    this.forward.rmsnorm(out, x, gain, T, C, eps);
  }

  rope(x: Float32Array, T: number, nHeads: number, hd: number, pos0: number, freqs: Float64Array): void {
    this.forward.rope(x, T, nHeads, hd, pos0, freqs);
  }

  // Training's attention (one sequence from position 0, its own k, v rows as the cache) runs
  // as matrix products; anything else (decoding with a KV cache) is the forward kernels'.
  attention(
    out: Float32Array, q: Float32Array, kCache: Float32Array, vCache: Float32Array,
    T: number, pos0: number, nHeads: number, nKvHeads: number, hd: number,
  ): void {
    if (pos0 !== 0) return this.forward.attention(out, q, kCache, vCache, T, pos0, nHeads, nKvHeads, hd);
    positiveInts('attention', { T });
    checkHeads('attention', nHeads, nKvHeads, hd);
    const f = this.frame('attention');
    const qPtr = f.input(q, T * nHeads * hd, 'q'); // [T, nHeads*hd]
    const kPtr = f.input(kCache, T * nKvHeads * hd, 'kCache'); // [T, nKvHeads*hd], the rows read
    const vPtr = f.input(vCache, T * nKvHeads * hd, 'vCache'); // [T, nKvHeads*hd]
    const outPtr = f.output(out, T * nHeads * hd, 'out'); // [T, nHeads*hd]
    this.attentionJob(f, false, [outPtr, qPtr, kPtr, vPtr], T, nHeads, nKvHeads, hd);
    f.finish();
  }

  swiglu(out: Float32Array, gate: Float32Array, up: Float32Array, n: number): void {
    positiveInts('swiglu', { n });
    const f = this.frame('swiglu');
    const gatePtr = f.input(gate, n, 'gate'); // [n]
    const upPtr = f.input(up, n, 'up'); // [n]
    const outPtr = out === gate ? gatePtr : out === up ? upPtr : f.output(out, n, 'out'); // [n], may be gate or up
    if (outPtr === gatePtr || outPtr === upPtr) f.inout(out, n, 'out');
    this.wasm.swigluF32(outPtr, gatePtr, upPtr, n);
    f.finish();
  }

  // --- backward ----------------------------------------------------------------------------

  matmulBackward(dx: Float32Array, dw: Float32Array, dout: Float32Array, x: Float32Array, w: WeightTensor, T: number): void {
    const W = f32Weight('matmulBackward', w);
    positiveInts('matmulBackward', { T });
    const K = w.cols;
    const N = w.rows;
    const f = this.frame('matmulBackward');
    const wPtr = f.input(W, N * K, 'w'); // [N, K]
    const doutPtr = f.input(dout, T * N, 'dout'); // [T, N]
    const xPtr = f.input(x, T * K, 'x'); // [T, K]
    const dxPtr = f.inout(dx, T * K, 'dx'); // [T, K]
    const dwPtr = f.inout(dw, N * K, 'dw'); // [N, K]
    const doutTPtr = f.temp(N * T); // [N, T] dout transposed
    this.gemm(dxPtr, doutPtr, wPtr, T, N, K, true); // dx += dout · W
    this.wasm.transposeF32(doutTPtr, doutPtr, T, N);
    this.gemm(dwPtr, doutTPtr, xPtr, N, T, K, true); // dW += doutᵀ · x
    f.finish();
  }

  rmsnormBackward(
    dx: Float32Array, dgain: Float32Array, dout: Float32Array, x: Float32Array, gain: Float32Array,
    T: number, C: number, eps: number,
  ): void {
    positiveInts('rmsnormBackward', { T, C });
    const f = this.frame('rmsnormBackward');
    const doutPtr = f.input(dout, T * C, 'dout'); // [T, C]
    const xPtr = f.input(x, T * C, 'x'); // [T, C]
    const gainPtr = f.input(gain, C, 'gain'); // [C]
    const dxPtr = f.inout(dx, T * C, 'dx'); // [T, C]
    const dgainPtr = f.inout(dgain, C, 'dgain'); // [C]
    this.wasm.rmsnormBackward(dxPtr, dgainPtr, doutPtr, xPtr, gainPtr, T, C, eps);
    f.finish();
  }

  ropeBackward(dx: Float32Array, T: number, nHeads: number, hd: number, pos0: number, freqs: Float64Array): void {
    positiveInts('ropeBackward', { T, nHeads, hd });
    if (!Number.isSafeInteger(pos0) || pos0 < 0) throw new Error(`wasm ropeBackward: pos0 must be a non-negative integer, got ${pos0}`);
    if (hd % 2 !== 0) throw new Error(`wasm ropeBackward: head dimension ${hd} must be even`);
    const f = this.frame('ropeBackward');
    const dxPtr = f.inout(dx, T * nHeads * hd, 'dx'); // [T, nHeads*hd]
    const freqsPtr = f.inputF64(freqs, hd / 2, 'freqs'); // f64 [hd/2]
    this.wasm.ropeBackward(dxPtr, T, nHeads, hd, pos0, freqsPtr);
    f.finish();
  }

  attentionBackward(
    dq: Float32Array, dk: Float32Array, dv: Float32Array, dout: Float32Array,
    q: Float32Array, k: Float32Array, v: Float32Array,
    T: number, nHeads: number, nKvHeads: number, hd: number,
  ): void {
    positiveInts('attentionBackward', { T });
    checkHeads('attentionBackward', nHeads, nKvHeads, hd);
    const qSize = T * nHeads * hd;
    const kvSize = T * nKvHeads * hd;
    const f = this.frame('attentionBackward');
    const doutPtr = f.input(dout, qSize, 'dout'); // [T, nHeads*hd]
    const qPtr = f.input(q, qSize, 'q'); // [T, nHeads*hd]
    const kPtr = f.input(k, kvSize, 'k'); // [T, nKvHeads*hd]
    const vPtr = f.input(v, kvSize, 'v'); // [T, nKvHeads*hd]
    const dqPtr = f.inout(dq, qSize, 'dq'); // [T, nHeads*hd]
    const dkPtr = f.inout(dk, kvSize, 'dk'); // [T, nKvHeads*hd]
    const dvPtr = f.inout(dv, kvSize, 'dv'); // [T, nKvHeads*hd]
    // scratch per thread: P then dS, dP, their transpose [T, T] each; K_gᵀ, V_gᵀ [hd, T] each
    this.attentionJob(f, true, [dqPtr, dkPtr, dvPtr, doutPtr, qPtr, kPtr, vPtr], T, nHeads, nKvHeads, hd);
    f.finish();
  }

  swigluBackward(dgate: Float32Array, dup: Float32Array, dout: Float32Array, gate: Float32Array, up: Float32Array, n: number): void {
    positiveInts('swigluBackward', { n });
    const f = this.frame('swigluBackward');
    const doutPtr = f.input(dout, n, 'dout'); // [n]
    const gatePtr = f.input(gate, n, 'gate'); // [n]
    const upPtr = f.input(up, n, 'up'); // [n]
    const dgatePtr = f.inout(dgate, n, 'dgate'); // [n]
    const dupPtr = f.inout(dup, n, 'dup'); // [n]
    this.wasm.swigluBackward(dgatePtr, dupPtr, doutPtr, gatePtr, upPtr, n);
    f.finish();
  }
}

// Training kernels over a fresh WASM memory. Options are the forward kernels': the memory
// bound, which .wasm file, and threads — here the threads the matrix products and attention
// are split across (default: the available parallelism; the forward kernels underneath get
// one), from minParallelWork multiply-adds on; the row-wise kernels run on this thread.
export async function createWasmTrainingKernels(options: WasmKernelsOptions = {}): Promise<WasmTrainingKernels> {
  const threads = options.threads ?? (await defaultThreads());
  if (!Number.isSafeInteger(threads) || threads < 1 || threads > 256) {
    throw new Error(`wasm training kernels: threads must be an integer in 1..256, got ${threads}`);
  }
  const forward = await createWasmKernels({ ...options, threads: 1 });
  let pool: WorkerPool | undefined;
  try {
    const module = await compileKernels(options.wasmPath, options.simd); // the forward kernels' build
    const wasm = await instantiateKernels(module, forward.memory);
    if (typeof wasm.attentionSequenceBackward !== 'function') {
      throw new Error(`wasm training kernels: ${options.wasmPath ?? 'kernels.wasm'} has no backward kernels; rebuild it with \`node scripts/build-wasm.mjs\``);
    }
    if (threads > 1) pool = await WorkerPool.start(threads - 1, module, [forward.memory]); // shard 0: the forward kernels' memory
    return new WasmTrainingBackend(forward, wasm, pool, options.minParallelWork ?? DEFAULT_MIN_PARALLEL_WORK);
  } catch (error) {
    await pool?.close();
    await forward.close();
    throw error;
  }
}
