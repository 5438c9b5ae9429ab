// The WASM SIMD backend: the Kernels interface (reference/kernels.ts) over the
// AssemblyScript kernels in assembly/, checked equal to the readable TypeScript ones
// (tests/wasm-kernels.test.ts).
//
// Data movement per call: weights are in WASM memory already (uploaded once, weights.ts);
// each Float32Array argument that is not a view of this instance's memory is copied into
// a scratch arena, the kernel runs, and outputs are copied back. Arrays from allocate()
// are such views and are used in place: that is what the KV cache should be made of,
// since attention reads all of it on every call.
import type { Kernels } from '../../../reference/kernels.js';
import type { WeightTensor } from '../../../reference/tensor.js';
import type { LlamaModel } from '../../../reference/weights.js';
import { alignUp, PAGE_BYTES, ScratchArena, WASM32_MAX_BYTES, WasmHeap, type Region } from './heap.js';
import { compileKernels, instantiateKernels, type KernelExports } from './module.js';
import { WeightStore } from './weights.js';

export interface WasmKernelsOptions {
  // Upper bound of the WASM memory in bytes (default and most: 4 GiB); smaller bounds
  // reserve less address space, and make "does not fit" testable.
  maxMemoryBytes?: number;
  // A kernels .wasm file to load instead of the default build (e.g. the relaxed-SIMD build).
  wasmPath?: string;
}

export interface WasmKernels extends Kernels {
  readonly name: 'wasm';
  readonly memory: WebAssembly.Memory;
  // A zeroed Float32Array that is a view of WASM memory: kernels read and write it in
  // place, without copies. Never freed (it lives as long as these kernels).
  allocate(length: number): Float32Array;
  // Places every weight of a model in WASM memory now (otherwise each is uploaded on its
  // first matmul); throws before uploading anything when the model does not fit.
  uploadModel(model: LlamaModel): void;
  // Bytes of WASM memory in use, by region.
  memoryUsage(): Record<Region, number> & { total: number; capacity: number };
}

// What a kernel call was given, and its copy of each argument in WASM memory.
class CallFrame {
  private readonly copyBack: [target: Float32Array, ptr: number, length: number][] = [];

  constructor(private readonly heap: WasmHeap, private readonly scratch: ScratchArena, private readonly kernel: string) {
    scratch.reset();
  }

  // `length` floats of `a` are needed: throws a clear error instead of a kernel reading
  // or writing past the array (which, for a view, would be someone else's memory).
  check(a: Float32Array, length: number, name: string): void {
    if (!Number.isSafeInteger(length) || length < 0) throw new Error(`wasm ${this.kernel}: bad size ${length} for ${name}`);
    if (a.length < length) throw new Error(`wasm ${this.kernel}: ${name} has ${a.length} floats, needs ${length}`);
  }

  // Pointer to the first `length` floats of `a`, as input.
  input(a: Float32Array, length: number, name: string): number {
    this.check(a, length, name);
    if (this.heap.owns(a)) return a.byteOffset;
    const ptr = this.scratch.take(4 * length);
    this.heap.f32().set(a.subarray(0, length), ptr / 4);
    return ptr;
  }

  // Pointer where the kernel writes the first `length` floats of `a`.
  output(a: Float32Array, length: number, name: string): number {
    this.check(a, length, name);
    if (this.heap.owns(a)) return a.byteOffset;
    const ptr = this.scratch.take(4 * length);
    this.copyBack.push([a, ptr, length]);
    return ptr;
  }

  // An array read and written in place (rope): input that is also copied back.
  inout(a: Float32Array, length: number, name: string): number {
    const ptr = this.input(a, length, name);
    if (!this.heap.owns(a)) this.copyBack.push([a, ptr, length]);
    return ptr;
  }

  temp(floats: number): number {
    return this.scratch.take(4 * floats);
  }

  finish(): void {
    const memory = this.heap.f32();
    for (const [target, ptr, length] of this.copyBack) target.set(memory.subarray(ptr / 4, ptr / 4 + length));
  }
}

function positiveInts(kernel: string, values: Record<string, number>): void {
  for (const [name, v] of Object.entries(values)) {
    if (!Number.isSafeInteger(v) || v <= 0) throw new Error(`wasm ${kernel}: ${name} must be a positive integer, got ${v}`);
  }
}

const MATMUL = { f32: 'matmulF32', f16: 'matmulF16', q8_0: 'matmulQ8_0', q4_0: 'matmulQ4_0' } as const;

export async function createWasmKernels(options: WasmKernelsOptions = {}): Promise<WasmKernels> {
  const maxBytes = options.maxMemoryBytes ?? WASM32_MAX_BYTES;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < PAGE_BYTES || maxBytes > WASM32_MAX_BYTES) {
    throw new Error(`wasm kernels: maxMemoryBytes must be between ${PAGE_BYTES} and ${WASM32_MAX_BYTES}, got ${maxBytes}`);
  }
  const maximum = Math.floor(maxBytes / PAGE_BYTES);
  const memory = new WebAssembly.Memory({ initial: Math.min(16, maximum), maximum, shared: true });
  const wasm: KernelExports = await instantiateKernels(await compileKernels(options.wasmPath), memory);
  const heap = new WasmHeap(memory, wasm.heapBase(), maximum * PAGE_BYTES);
  const scratch = new ScratchArena(heap);
  const weights = new WeightStore(heap);
  const frame = (kernel: string): CallFrame => new CallFrame(heap, scratch, kernel);

  return {
    name: 'wasm',
    memory,

    allocate(length: number): Float32Array {
      if (!Number.isSafeInteger(length) || length < 0) throw new Error(`wasm allocate: bad length ${length}`);
      const ptr = heap.alloc(alignUp(4 * length, 4), 'views', `allocate(${length})`);
      const view = new Float32Array(heap.buffer(), ptr, length);
      view.fill(0);
      return view;
    },

    uploadModel(model: LlamaModel): void {
      weights.uploadModel(model);
    },

    memoryUsage: () => heap.usage(),

    matmul(out: Float32Array, x: Float32Array, w: WeightTensor, T: number): void {
      positiveInts('matmul', { T });
      const K = w.cols;
      const N = w.rows;
      const wPtr = weights.pointer(w); // first: it may grow memory, and checks the shape
      const f = frame('matmul');
      const xPtr = f.input(x, T * K, 'x'); // [T, K]
      const outPtr = f.output(out, T * N, 'out'); // [T, N]
      wasm[MATMUL[w.dtype]](outPtr, xPtr, wPtr, T, K, N, 0, N);
      f.finish();
    },

    rmsnorm(out: Float32Array, x: Float32Array, gain: Float32Array, T: number, C: number, eps: number): void {
      positiveInts('rmsnorm', { T, C });
      const f = frame('rmsnorm');
      const xPtr = f.input(x, T * C, 'x'); // [T, C]
      const gainPtr = f.input(gain, C, 'gain'); // [C]
      const outPtr = f.output(out, T * C, 'out'); // [T, C]
      wasm.rmsnorm(outPtr, xPtr, gainPtr, T, C, eps);
      f.finish();
    },

    rope(x: Float32Array, T: number, nHeads: number, hd: number, pos0: number, theta: number): void {
      positiveInts('rope', { T, nHeads, hd });
      if (!Number.isSafeInteger(pos0) || pos0 < 0) throw new Error(`wasm rope: pos0 must be a non-negative integer, got ${pos0}`);
      if (hd % 2 !== 0) throw new Error(`wasm rope: head dimension ${hd} must be even`);
      const f = frame('rope');
      const xPtr = f.inout(x, T * nHeads * hd, 'x'); // [T, nHeads*hd]
      wasm.rope(xPtr, T, nHeads, hd, pos0, theta);
      f.finish();
    },

    attention(
      out: Float32Array, q: Float32Array, kCache: Float32Array, vCache: Float32Array,
      T: number, pos0: number, nHeads: number, nKvHeads: number, hd: number,
    ): void {
      positiveInts('attention', { T, nHeads, nKvHeads, hd });
      if (!Number.isSafeInteger(pos0) || pos0 < 0) throw new Error(`wasm attention: pos0 must be a non-negative integer, got ${pos0}`);
      if (nHeads % nKvHeads !== 0) throw new Error(`wasm attention: nHeads ${nHeads} is not a multiple of nKvHeads ${nKvHeads}`);
      const S = pos0 + T; // cache rows read
      const f = frame('attention');
      const qPtr = f.input(q, T * nHeads * hd, 'q'); // [T, nHeads*hd]
      const kPtr = f.input(kCache, S * nKvHeads * hd, 'kCache'); // [S, nKvHeads*hd], only the rows read
      const vPtr = f.input(vCache, S * nKvHeads * hd, 'vCache'); // [S, nKvHeads*hd]
      const scoresPtr = f.temp(S); // [S] one head's attention weights
      const outPtr = f.output(out, T * nHeads * hd, 'out'); // [T, nHeads*hd]
      wasm.attention(outPtr, qPtr, kPtr, vPtr, scoresPtr, T, pos0, nHeads, nKvHeads, hd);
      f.finish();
    },

    swiglu(out: Float32Array, gate: Float32Array, up: Float32Array, n: number): void {
      positiveInts('swiglu', { n });
      const f = frame('swiglu');
      const gatePtr = f.input(gate, n, 'gate'); // [n]
      const upPtr = up === gate ? gatePtr : f.input(up, n, 'up'); // [n]
      const outPtr = f.output(out, n, 'out'); // [n]; may be gate or up, elementwise in place
      wasm.swiglu(outPtr, gatePtr, upPtr, n);
      f.finish();
    },
  };
}
