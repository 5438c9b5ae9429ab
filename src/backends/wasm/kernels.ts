// The WASM SIMD backend: the Kernels interface (reference/kernels.ts) over the
// AssemblyScript kernels in assembly/, checked equal to the readable TypeScript ones
// (tests/wasm-kernels.test.ts).
//
// Data movement per call: weights are in WASM memory already (uploaded once, weights.ts);
// each Float32Array argument that is not a view of the memory the call runs in is copied
// into that memory's scratch arena, the kernel runs, and outputs are copied back. Arrays
// from allocate() are such views and are used in place: that is what the KV cache should
// be made of, since attention reads all of it on every call.
//
// Threads (pool.ts): the matmul is split by weight rows and attention by heads across the
// main thread and the workers, each row or head computed by one thread with the same code,
// so the results are the same bit for bit at any thread count. The small row-wise kernels
// (rmsnorm, rope, swiglu) stay on the main thread.
//
// Shards (plan.ts): createModelKernels places a model too large for one wasm32 memory in
// several, by layers. A matmul runs in the memory holding its weight, attention in the
// memory holding its KV cache, the row-wise kernels wherever one of their arguments lives.
import type { LlamaConfig } from '../../../reference/config.js';
import { kvDim } from '../../../reference/config.js';
import type { Kernels } from '../../../reference/kernels.js';
import type { KVCache } from '../../../reference/model.js';
import type { WeightTensor } from '../../../reference/tensor.js';
import { LAYER_MATRICES, type LlamaModel } from '../../../reference/weights.js';
import { alignUp, WASM32_MAX_BYTES, type Region } from './heap.js';
import { hardwareThreads, isBrowserMainThread } from './host.js';
import { loadKernels, type CompiledKernels, type SimdBuild, type SimdChoice } from './module.js';
import { CallFrame, positiveInts } from './call-frame.js';
import { planShards, type ModelShapes, type ShardPlan } from './plan.js';
import { WorkerPool } from './pool.js';
import { wasmDType } from './weights.js';
import { createShard, type Shard } from './shard.js';
import { Op } from './worker-ops.js';
import {
  ACTIVATION_BLOCK_BYTES, ACTIVATION_LAYOUT, DECODED_TYPE, I8_ACTIVATION_LAYOUT, K_PROMPT_LAYOUT, K_PROMPT_TYPES, MATMUL, MATMUL_EXPORT, MATMUL_I8, MATMUL_I8_EXPORT, MATMUL_Q8, MATMUL_Q8_EXPORT, PROMPT_TOKENS, isQuantizedDecode,
} from './matmul-routes.js';

export interface WasmKernelsOptions {
  // Upper bound of each WASM memory in bytes (default and most: 4 GiB); smaller bounds
  // reserve less address space, and make "does not fit" (and sharding) testable.
  maxMemoryBytes?: number;
  // A kernels .wasm file (a URL in browsers) to load instead of the chosen build.
  wasmPath?: string;
  // Which build (module.ts): 'relaxed' (fused multiply-add), 'plain' SIMD, or 'auto'
  // (default; $LLAMA_TS_SIMD in Node): relaxed where the runtime supports it.
  simd?: SimdChoice;
  // Threads running the kernels, this one included (default: the available parallelism;
  // 1 = no workers).
  threads?: number;
  // A matmul or attention call is split across threads only from this many multiply-adds
  // on: below it, waking the workers costs more than it saves (0 = always split).
  minParallelWork?: number;
  // Activations of the quantized matmuls when decoding (T < 4 tokens): 'q8' (default)
  // quantizes each row of x to blocks of 32 with one scale (as llama.cpp does; by 256 for
  // q4_k / q5_k with i8Dot, as its Q8_K) and multiplies in integers, several times faster;
  // 'f32' multiplies the decoded weights with x as it is, the reference's arithmetic. Prompts
  // (T ≥ 4) take the f32 way (PROMPT_TOKENS), but for q4_0 and the K-quants q2_k..q6_k in the
  // relaxed-SIMD build, which quantize too (i8Dot; the K-quants by 256, as llama.cpp's Q8_K).
  activations?: 'q8' | 'f32';
  // q4_0 matmuls with activations 'q8' on relaxed SIMD's 8-bit dot product (prompts:
  // assembly/qgemm.ts, decoding: qdecode.ts), prompts of q2_k..q6_k (assembly/kgemm.ts), and
  // decoding of q8_0, q6_k, q4_1, q5_0, q5_1 (q8decode.ts, q6decode.ts, legacydot.ts: the
  // same bits as without) and q4_k / q5_k (kdot256.ts: activations by 256): by default in the
  // relaxed-SIMD build only, where it is faster; true runs the same kernels in the plain
  // build, the dot product emulated (slower: its tests do). (q2_k / q3_k always decode on it,
  // iq4_nl never: k16dot.ts, legacydot.ts.)
  i8Dot?: boolean;
}

export interface ModelKernelsOptions extends WasmKernelsOptions {
  contextLength?: number; // KV cache positions to plan room for (default: the model's context)
}

export interface WasmKernels extends Kernels {
  readonly name: 'wasm';
  readonly memory: WebAssembly.Memory; // the first shard's
  readonly threads: number;
  readonly shards: number;
  readonly simd: SimdBuild; // the build running: 'relaxed' (fused multiply-add) or 'plain' SIMD
  // A zeroed Float32Array that is a view of WASM memory (the first shard's): kernels read
  // and write it in place, without copies. Never freed (it lives as long as these kernels).
  allocate(length: number): Float32Array;
  // A KV cache whose layers live in the memory of their layer's weights.
  createKVCache(config: LlamaConfig, capacity?: number): KVCache;
  // Places every weight of a model in the first memory now (otherwise each is uploaded on
  // its first matmul); throws before uploading anything when the model does not fit.
  uploadModel(model: LlamaModel): void;
  // Bytes of WASM memory in use, by region, summed over shards.
  memoryUsage(): Record<Region, number> & { total: number; capacity: number };
  // Jobs that ran split across threads so far.
  parallelJobs(): number;
  // What loading changed that a user should know (e.g. matrices decoded to f16 because
  // their type has no WASM kernels yet, widen.ts).
  readonly notes: string[];
  // Stops the worker threads; the kernels must not be used afterwards.
  close(): Promise<void>;
}

// Measured on a busy 2-core x86 machine, matmul with T = 1 at 2 threads against 1: 16k
// multiply-adds 55 µs against 3 µs (waking a worker and waiting for it costs tens of µs),
// 65k 36 against 8, 262k 20 against 31. The split pays from about 200k on.
export const DEFAULT_MIN_PARALLEL_WORK = 1 << 18;

// Every logical processor; but 1 on a browser page's main thread, where the kernel threads
// cannot run (pool.ts): there a model needing threads must be loaded in a Web Worker.
export async function defaultThreads(): Promise<number> {
  return isBrowserMainThread() ? 1 : hardwareThreads();
}

function checkThreads(threads: number): number {
  if (!Number.isSafeInteger(threads) || threads < 1 || threads > 256) {
    throw new Error(`wasm kernels: threads must be an integer in 1..256, got ${threads}`);
  }
  return threads;
}

// Attention over a prompt from position 0 goes as matrix products from this many tokens on,
// and up to this many (its scratch, [T, T] scores a thread, grows as T²: 4 MiB at 1024)
const SEQUENCE_MIN_TOKENS = 8;
const SEQUENCE_MAX_TOKENS = 1024;

class WasmBackend implements WasmKernels {
  readonly name = 'wasm' as const;
  readonly notes: string[] = [];
  private readonly weightShard = new WeakMap<ArrayBufferView, Shard>(); // weight data -> its planned shard
  private readonly q8_0Minus128 = new WeakMap<ArrayBufferView, boolean>(); // q8_0 weight data -> holds a −128 (assembly/q8decode.ts)

  constructor(
    private readonly shardList: Shard[],
    readonly simd: SimdBuild,
    private readonly pool: WorkerPool | undefined,
    private readonly minParallelWork: number,
    private readonly quantizeActivations: boolean,
    private readonly i8Dot: boolean,
    private readonly plan?: ShardPlan,
  ) {}

  get memory(): WebAssembly.Memory {
    return this.shardList[0].memory;
  }

  get threads(): number {
    return this.pool?.threads ?? 1;
  }

  get shards(): number {
    return this.shardList.length;
  }

  // Uploads the model's weights by the plan: each layer's matrices into its shard.
  placeModel(model: LlamaModel, plan: ShardPlan): void {
    const w = model.weights;
    const widened = new Map<string, number>(); // dtype -> matrices decoded to f16
    for (const t of new Set([w.output, ...w.layers.flatMap((l) => LAYER_MATRICES.map((m) => l[m]))])) {
      if (wasmDType(t.dtype) !== t.dtype) widened.set(t.dtype, (widened.get(t.dtype) ?? 0) + 1);
    }
    for (const [dtype, n] of widened) {
      this.notes.push(`the wasm backend has no ${dtype} kernels yet: ${n} matri${n === 1 ? 'x' : 'ces'} decoded to f16 in WASM memory; --backend ts runs them as stored`);
    }
    w.layers.forEach((layer, l) => {
      const shard = this.shardList[plan.layerShard[l]];
      for (const m of LAYER_MATRICES) this.place(layer[m], shard);
    });
    this.place(w.output, this.shardList[plan.outputShard]);
  }

  private place(w: WeightTensor, shard: Shard): void {
    shard.weights.pointer(w);
    this.weightShard.set(w.data, shard);
  }

  // The shard an array is a view of, if any.
  private ownerOf(...arrays: ArrayBufferView[]): Shard | undefined {
    for (const a of arrays) for (const shard of this.shardList) if (shard.owns(a)) return shard;
    return undefined;
  }

  private frame(shard: Shard, kernel: string): CallFrame {
    return new CallFrame(shard, kernel);
  }

  private parallel(work: number, parts: number): boolean {
    return this.pool !== undefined && parts > 1 && work >= this.minParallelWork;
  }

  allocate(length: number): Float32Array {
    return this.allocateIn(this.shardList[0], length);
  }

  private allocateIn(shard: Shard, length: number): Float32Array {
    if (!Number.isSafeInteger(length) || length < 0) throw new Error(`wasm allocate: bad length ${length}`);
    const ptr = shard.heap.alloc(alignUp(4 * length, 4), 'views', `allocate(${length})`);
    return new Float32Array(shard.heap.buffer(), ptr, length); // zero: the bump heap never reuses memory
  }

  createKVCache(config: LlamaConfig, capacity = config.maxSeqLen): KVCache {
    if (!Number.isSafeInteger(capacity) || capacity < 1 || capacity > config.maxSeqLen) {
      throw new Error(`KV cache of ${capacity} positions: must be an integer in 1..${config.maxSeqLen} (the model's context)`);
    }
    const size = capacity * kvDim(config); // [S, kvDim] per layer
    const k: Float32Array[] = [];
    const v: Float32Array[] = [];
    for (let l = 0; l < config.nLayers; l++) {
      const shard = this.shardList[this.plan?.layerShard[l] ?? 0];
      k.push(this.allocateIn(shard, size));
      v.push(this.allocateIn(shard, size));
    }
    return { capacity, k, v };
  }

  uploadModel(model: LlamaModel): void {
    this.shardList[0].weights.uploadModel(model);
  }

  memoryUsage(): Record<Region, number> & { total: number; capacity: number } {
    const sum = { weights: 0, views: 0, scratch: 0, total: 0, capacity: 0 };
    for (const shard of this.shardList) {
      const u = shard.heap.usage();
      for (const key of Object.keys(sum) as (keyof typeof sum)[]) sum[key] += u[key];
    }
    return sum;
  }

  parallelJobs(): number {
    return this.pool?.jobs ?? 0;
  }

  close(): Promise<void> {
    return this.pool?.close() ?? Promise.resolve();
  }

  matmul(out: Float32Array, x: Float32Array, w: WeightTensor, T: number): void {
    positiveInts('matmul', { T });
    const K = w.cols;
    const N = w.rows;
    // its planned shard, or the shard it is a view of (a loader may read weights straight into WASM memory)
    const shard = this.weightShard.get(w.data) ?? this.ownerOf(w.data) ?? this.shardList[0];
    const wPtr = shard.weights.pointer(w); // first: it may grow memory, and checks the shape
    const f = this.frame(shard, 'matmul');
    const xPtr = f.input(x, T * K, 'x'); // [T, K]
    const outPtr = f.output(out, T * N, 'out'); // [T, N]
    const dtype = wasmDType(w.dtype); // f16 for a type widened at upload (widen.ts)
    const split = this.parallel(T * K * N, N);
    if (dtype === 'q4_0' && this.quantizeActivations && this.i8Dot) {
      // relaxed SIMD's 8-bit dot product: x quantized once here for every thread; a prompt as a
      // GEMM (assembly/qgemm.ts), each thread unpacking its weight rows into a scratch of its
      // own; decoding from the blocks in place (assembly/qdecode.ts)
      const xqPtr = f.temp(shard.wasm.promptActivationBytes(T, K) / 4); // [T, K/32 blocks] and scales, qgemm.ts layout
      shard.wasm.quantizePrompt(xqPtr, xPtr, T, K);
      if (T < PROMPT_TOKENS) {
        if (split) this.pool!.run(Op.matmulQ4_0I8, shard.index, [outPtr, xqPtr, wPtr, T, K, N], shard.wasm);
        else shard.wasm.matmulQ4_0I8(outPtr, xqPtr, wPtr, T, K, N, 0, N);
      } else {
        const scratchBytes = alignUp(shard.wasm.promptScratchBytes(K), 64);
        const scratchPtr = f.temp(((split ? this.threads : 1) * scratchBytes) / 4); // [threads, scratchBytes]
        if (split) this.pool!.run(Op.matmulQ4_0Prompt, shard.index, [outPtr, xqPtr, wPtr, T, K, N, scratchPtr, scratchBytes], shard.wasm);
        else shard.wasm.matmulQ4_0Prompt(outPtr, xqPtr, wPtr, T, K, N, 0, N, scratchPtr);
      }
    } else if (K_PROMPT_TYPES.includes(dtype) && this.quantizeActivations && this.i8Dot && T >= PROMPT_TOKENS) {
      // a prompt on a K-quant with relaxed SIMD: x quantized once here by super-blocks of 256,
      // an integer GEMM (assembly/kgemm.ts), each thread unpacking its rows into its own scratch
      const xqPtr = f.temp((T * (K / 32) * ACTIVATION_BLOCK_BYTES) / 4); // [T, K/256] super-blocks, layout 5
      shard.wasm.quantizeActivations(xqPtr, xPtr, T, K, K_PROMPT_LAYOUT);
      const scratchBytes = alignUp(shard.wasm.kPromptScratchBytes(K), 64);
      const scratchPtr = f.temp(((split ? this.threads : 1) * scratchBytes) / 4); // [threads, scratchBytes]
      const type = DECODED_TYPE[dtype as keyof typeof DECODED_TYPE];
      if (split) this.pool!.run(Op.matmulKPrompt, shard.index, [outPtr, xqPtr, wPtr, T, K, N, scratchPtr, scratchBytes, type], shard.wasm);
      else shard.wasm.matmulKPrompt(type, outPtr, xqPtr, wPtr, T, K, N, 0, N, scratchPtr);
    } else if (isQuantizedDecode(dtype) && this.quantizeActivations && T < PROMPT_TOKENS) {
      // decoding: x quantized once here, on this thread; every thread reads the same blocks.
      // q8_0 and the K-quants with i8Dot: the 8-bit dot product, the same bits
      const i8 = this.i8Dot && Object.hasOwn(MATMUL_I8, dtype) && !(dtype === 'q8_0' && this.hasMinus128(shard, w, wPtr)) ? (dtype as keyof typeof MATMUL_I8) : undefined;
      const xqPtr = f.temp((T * (K / 32) * ACTIVATION_BLOCK_BYTES) / 4); // [T, K/32] blocks, assembly/activations.ts layout
      shard.wasm.quantizeActivations(xqPtr, xPtr, T, K, i8 ? I8_ACTIVATION_LAYOUT[i8] : ACTIVATION_LAYOUT[dtype]);
      if (split) this.pool!.run(i8 ? MATMUL_I8[i8] : MATMUL_Q8[dtype], shard.index, [outPtr, xqPtr, wPtr, T, K, N], shard.wasm);
      else shard.wasm[i8 ? MATMUL_I8_EXPORT[i8] : MATMUL_Q8_EXPORT[dtype]](outPtr, xqPtr, wPtr, T, K, N, 0, N);
    } else if (dtype === 'q8_0' || dtype === 'q4_0' || dtype in DECODED_TYPE) {
      // a prompt (or f32 activations, or a type without integer kernels): f32 products with
      // decoded weights, each thread decoding its rows into a scratch block of its own
      const scratchBytes = alignUp(shard.wasm.blockScratchBytes(K), 64);
      const scratchPtr = f.temp(((split ? this.threads : 1) * scratchBytes) / 4); // [threads, scratchBytes]
      if (dtype === 'q8_0' || dtype === 'q4_0') {
        if (split) this.pool!.run(MATMUL[dtype], shard.index, [outPtr, xPtr, wPtr, T, K, N, scratchPtr, scratchBytes], shard.wasm);
        else shard.wasm[MATMUL_EXPORT[dtype]](outPtr, xPtr, wPtr, T, K, N, 0, N, scratchPtr);
      } else {
        const type = DECODED_TYPE[dtype as keyof typeof DECODED_TYPE];
        if (split) this.pool!.run(Op.matmulDecoded, shard.index, [outPtr, xPtr, wPtr, T, K, N, scratchPtr, scratchBytes, type], shard.wasm);
        else shard.wasm.matmulDecoded(type, outPtr, xPtr, wPtr, T, K, N, 0, N, scratchPtr);
      }
    } else if (dtype === 'f32' || dtype === 'f16') {
      if (split) this.pool!.run(MATMUL[dtype], shard.index, [outPtr, xPtr, wPtr, T, K, N], shard.wasm);
      else shard.wasm[MATMUL_EXPORT[dtype]](outPtr, xPtr, wPtr, T, K, N, 0, N);
    } else {
      throw new Error(`wasm matmul: no kernel for ${dtype} weights`);
    }
    f.finish();
  }

  // Whether a q8_0 weight (at wPtr in the shard) holds a weight of −128, which the 8-bit dot
  // product cannot take (assembly/q8decode.ts): scanned once per tensor, at memory speed
  private hasMinus128(shard: Shard, w: WeightTensor, wPtr: number): boolean {
    let found = this.q8_0Minus128.get(w.data);
    if (found === undefined) {
      found = shard.wasm.q8_0HasMinus128(wPtr, (w.rows * w.cols) / 32) !== 0;
      this.q8_0Minus128.set(w.data, found);
    }
    return found;
  }

  rmsnorm(out: Float32Array, x: Float32Array, gain: Float32Array, T: number, C: number, eps: number): void {
    positiveInts('rmsnorm', { T, C });
    const shard = this.ownerOf(x, out) ?? this.shardList[0];
    const f = this.frame(shard, 'rmsnorm');
    const xPtr = f.input(x, T * C, 'x'); // [T, C]
    const gainPtr = f.input(gain, C, 'gain'); // [C]
    const outPtr = f.output(out, T * C, 'out'); // [T, C]
    shard.wasm.rmsnorm(outPtr, xPtr, gainPtr, T, C, eps);
    f.finish();
  }

  rope(x: Float32Array, T: number, nHeads: number, hd: number, pos0: number, freqs: Float64Array): void {
    positiveInts('rope', { T, nHeads, hd });
    if (!Number.isSafeInteger(pos0) || pos0 < 0) throw new Error(`wasm rope: pos0 must be a non-negative integer, got ${pos0}`);
    if (hd % 2 !== 0) throw new Error(`wasm rope: head dimension ${hd} must be even`);
    const shard = this.ownerOf(x) ?? this.shardList[0];
    const f = this.frame(shard, 'rope');
    const xPtr = f.inout(x, T * nHeads * hd, 'x'); // [T, nHeads*hd]
    const freqsPtr = f.inputF64(freqs, hd / 2, 'freqs'); // f64 [hd/2]
    shard.wasm.rope(xPtr, T, nHeads, hd, pos0, freqsPtr);
    f.finish();
  }

  attention(
    out: Float32Array, q: Float32Array, kCache: Float32Array, vCache: Float32Array,
    T: number, pos0: number, nHeads: number, nKvHeads: number, hd: number,
  ): void {
    positiveInts('attention', { T, nHeads, nKvHeads, hd });
    if (!Number.isSafeInteger(pos0) || pos0 < 0) throw new Error(`wasm attention: pos0 must be a non-negative integer, got ${pos0}`);
    if (nHeads % nKvHeads !== 0) throw new Error(`wasm attention: nHeads ${nHeads} is not a multiple of nKvHeads ${nKvHeads}`);
    const S = pos0 + T; // cache rows read
    const shard = this.ownerOf(kCache, vCache) ?? this.shardList[0];
    const f = this.frame(shard, 'attention');
    const qPtr = f.input(q, T * nHeads * hd, 'q'); // [T, nHeads*hd]
    const kPtr = f.input(kCache, S * nKvHeads * hd, 'kCache'); // [S, nKvHeads*hd], only the rows read
    const vPtr = f.input(vCache, S * nKvHeads * hd, 'vCache'); // [S, nKvHeads*hd]
    if (pos0 === 0 && T >= SEQUENCE_MIN_TOKENS && T <= SEQUENCE_MAX_TOKENS) {
      // a prompt from position 0: as matrix products (assembly/attention-sequence.ts), 1.6-1.9×
      // faster than a query row at a time; threads split the kv heads
      const split = this.parallel(T * nHeads * S * hd * 2, nKvHeads);
      const scratchStride = alignUp(4 * (T * T + hd * T), 64); // bytes a thread: scores [T, T], Kᵀ [hd, T]
      const scratchPtr = f.temp(((split ? this.threads : 1) * scratchStride) / 4);
      const outPtr = f.output(out, T * nHeads * hd, 'out');
      const args = [outPtr, qPtr, kPtr, vPtr, scratchPtr, T, nHeads, nKvHeads, hd, scratchStride];
      if (split) this.pool!.run(Op.attentionSequence, shard.index, args, shard.wasm);
      else shard.wasm.attentionSequence(outPtr, qPtr, kPtr, vPtr, scratchPtr, scratchPtr + 4 * T * T, T, nHeads, nKvHeads, hd, 0, nKvHeads);
      f.finish();
      return;
    }
    const split = this.parallel(T * nHeads * S * hd * 2, nHeads);
    const slices = split ? this.threads : 1;
    const headsPerSlice = Math.ceil(nHeads / slices); // sliceRange gives no slice more
    const scoresStride = alignUp(4 * S * headsPerSlice, 64); // bytes of one thread's scores
    const scoresPtr = f.temp((slices * scoresStride) / 4); // [slices, headsPerSlice, S] attention weights
    const outPtr = f.output(out, T * nHeads * hd, 'out'); // [T, nHeads*hd]
    if (split) {
      this.pool!.run(Op.attention, shard.index, [outPtr, qPtr, kPtr, vPtr, scoresPtr, T, pos0, nHeads, nKvHeads, hd, scoresStride], shard.wasm);
    } else {
      shard.wasm.attentionHeads(outPtr, qPtr, kPtr, vPtr, scoresPtr, T, pos0, nHeads, nKvHeads, hd, 0, nHeads);
    }
    f.finish();
  }

  swiglu(out: Float32Array, gate: Float32Array, up: Float32Array, n: number): void {
    positiveInts('swiglu', { n });
    const shard = this.ownerOf(gate, up, out) ?? this.shardList[0];
    const f = this.frame(shard, 'swiglu');
    const gatePtr = f.input(gate, n, 'gate'); // [n]
    const upPtr = up === gate ? gatePtr : f.input(up, n, 'up'); // [n]
    const outPtr = f.output(out, n, 'out'); // [n]; may be gate or up, elementwise in place
    shard.wasm.swiglu(outPtr, gatePtr, upPtr, n);
    f.finish();
  }
}

// Kernels over one WASM memory (weights uploaded on first use, or by uploadModel).
export async function createWasmKernels(options: WasmKernelsOptions = {}): Promise<WasmKernels> {
  const compiled = await loadKernels(options);
  const shard = await createShard(compiled.module, 0, options.maxMemoryBytes ?? WASM32_MAX_BYTES);
  return start(compiled, [shard], options);
}

// Kernels for one model, its weights placed now: in one memory when it fits, else split by
// layers over as many memories as it needs (plan.ts), each layer's KV cache (createKVCache)
// beside its weights.
export async function createModelKernels(model: LlamaModel, options: ModelKernelsOptions = {}): Promise<WasmKernels> {
  return (await createPlannedKernels(model, options, () => model)).kernels;
}

// Gives the model once the planned memories exist: e.g. its weights read from the file
// straight into them (direct-load.ts). Weights not already in their planned shard are
// then copied there.
export type WeightLoader = (shards: readonly Shard[], plan: ShardPlan) => LlamaModel;

// Kernels planned from a model's shapes alone (with `embedding`, room for the token
// embedding in the first memory too), the weights supplied by `load`.
export async function createPlannedKernels(
  shapes: ModelShapes,
  options: ModelKernelsOptions & { embedding?: boolean },
  load: WeightLoader,
): Promise<{ kernels: WasmKernels; model: LlamaModel }> {
  const compiled = await loadKernels(options);
  const module = compiled.module;
  const maxBytes = options.maxMemoryBytes ?? WASM32_MAX_BYTES;
  const first = await createShard(module, 0, maxBytes);
  const contextLength = options.contextLength ?? shapes.config.maxSeqLen;
  const threads = checkThreads(options.threads ?? (await defaultThreads()));
  const limits = { capacityBytes: first.heap.maxBytes - first.heap.end, contextLength, threads, embedding: options.embedding };
  const plan = planShards(shapes, limits);
  const shards = [first];
  for (let s = 1; s < plan.shards; s++) shards.push(await createShard(module, s, maxBytes));
  const backend = await start(compiled, shards, options, plan);
  try {
    const model = load(shards, plan);
    backend.placeModel(model, plan);
    return { kernels: backend, model };
  } catch (error) {
    await backend.close();
    throw error;
  }
}

// Starts the workers (after every memory exists: each worker instantiates the module over
// all of them, before any kernel runs) and assembles the backend.
async function start(compiled: CompiledKernels, shards: Shard[], options: WasmKernelsOptions, plan?: ShardPlan): Promise<WasmBackend> {
  const threads = checkThreads(options.threads ?? (await defaultThreads()));
  const minWork = options.minParallelWork ?? DEFAULT_MIN_PARALLEL_WORK;
  if (!(minWork >= 0)) throw new Error(`wasm kernels: minParallelWork must be >= 0, got ${minWork}`);
  const activations = options.activations ?? 'q8';
  if (activations !== 'q8' && activations !== 'f32') throw new Error(`wasm kernels: activations must be 'q8' or 'f32', got ${String(activations)}`);
  const pool = threads > 1 ? await WorkerPool.start(threads - 1, compiled.module, shards.map((s) => s.memory)) : undefined;
  const i8Dot = options.i8Dot ?? compiled.simd === 'relaxed';
  return new WasmBackend(shards, compiled.simd, pool, minWork, activations === 'q8', i8Dot, plan);
}
