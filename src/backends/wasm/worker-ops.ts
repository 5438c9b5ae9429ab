// The jobs that threads share, and how one thread runs its slice of a job. The main thread
// and every worker call runSlice with the same control block, so each output row (or
// attention head) is computed by exactly one thread with the same kernel code: results do
// not depend on the number of threads, bit for bit.
//
// Control block: an Int32Array over a SharedArrayBuffer, written by the main thread only
// (except PENDING, which workers count down):
//
//   [GEN]       job generation; bumped (and notified) once per job; workers wait on it
//   [PENDING]   workers that have not finished the current job; main waits for 0
//   [OP]        what to run (Op below)
//   [SHARD]     which WASM memory (and instance) the pointers refer to
//   [SLICES]    threads taking part: the main thread is slice 0, worker i is slice i+1
//   [FAILED]    set by a worker whose kernel threw (it goes on serving)
//   [ARGS ..]   the kernel's integer arguments (byte offsets and sizes)
//
// This file imports nothing at run time: it is bundled into the worker script.
import type { KernelExports } from './module.js';

export const GEN = 0;
export const PENDING = 1;
export const OP = 2;
export const SHARD = 3;
export const SLICES = 4;
export const FAILED = 5; // non-zero: the slice of a worker whose kernel threw
export const ARGS = 8;
export const MAX_ARGS = 16;
export const CONTROL_INTS = ARGS + MAX_ARGS;

export const Op = {
  stop: 0,
  matmulF32: 1,
  matmulF16: 2,
  matmulQ8_0: 3, // args as matmul, then scratch and its bytes per thread (blockScratchBytes)
  matmulQ4_0: 4,
  attention: 5, // args: out q k v scores T pos0 nHeads nKvHeads hd scoresStride
  matmulQ8_0Q8: 6, // args as matmul, with x the quantized activations (quantizeActivations)
  matmulQ4_0Q8: 7,
  attentionSequence: 8, // args: out q k v scratch T nHeads nKvHeads hd scratchStride (prompt from position 0)
} as const;
export type OpCode = (typeof Op)[keyof typeof Op];

const MATMUL_EXPORT = {
  [Op.matmulF32]: 'matmulF32',
  [Op.matmulF16]: 'matmulF16',
  [Op.matmulQ8_0]: 'matmulQ8_0',
  [Op.matmulQ4_0]: 'matmulQ4_0',
  [Op.matmulQ8_0Q8]: 'matmulQ8_0Q8',
  [Op.matmulQ4_0Q8]: 'matmulQ4_0Q8',
} as const;

// Rows lo .. hi-1 of `total` for slice `i` of `n`: contiguous, sizes differing by at most one.
export function sliceRange(total: number, i: number, n: number): [number, number] {
  return [Math.floor((i * total) / n), Math.floor(((i + 1) * total) / n)];
}

// Runs this thread's share of the job described in `control`.
export function runSlice(wasm: KernelExports, control: Int32Array, slice: number): void {
  const op = control[OP];
  const slices = control[SLICES];
  const a = (i: number): number => control[ARGS + i] >>> 0; // byte offsets may pass 2 GiB
  if (op in MATMUL_EXPORT) {
    // matmul(out, x, w, T, K, N): split the N weight rows
    // (q8_0 / q4_0 with f32 activations: each slice its own scratch, a(6) + slice·a(7))
    const [n0, n1] = sliceRange(a(5), slice, slices);
    const scratch = a(6) + slice * a(7);
    if (n0 < n1) wasm[MATMUL_EXPORT[op as keyof typeof MATMUL_EXPORT]](a(0), a(1), a(2), a(3), a(4), a(5), n0, n1, scratch);
  } else if (op === Op.attention) {
    // attention over query heads; each slice has its own scores scratch
    const [h0, h1] = sliceRange(a(7), slice, slices);
    const scores = a(4) + slice * a(10);
    if (h0 < h1) wasm.attentionHeads(a(0), a(1), a(2), a(3), scores, a(5), a(6), a(7), a(8), a(9), h0, h1);
  } else if (op === Op.attentionSequence) {
    // over kv heads; each slice has its own scratch: scores [T, T], then Kᵀ [hd, T]
    const [g0, g1] = sliceRange(a(7), slice, slices);
    const scratch = a(4) + slice * a(9);
    const T = a(5);
    if (g0 < g1) wasm.attentionSequence(a(0), a(1), a(2), a(3), scratch, scratch + 4 * T * T, T, a(6), a(7), a(8), g0, g1);
  }
}

// What the kernels module imports: the memory, and an abort that only a debug build (with
// assertions) can reach.
export function kernelImports(memory: WebAssembly.Memory): WebAssembly.Imports {
  return {
    env: {
      memory,
      abort(_message: number, _file: number, line: number, column: number): never {
        throw new Error(`wasm kernels: abort at line ${line}, column ${column}`);
      },
    },
  };
}

// The first message a worker gets: the compiled module, every memory (one per shard, in
// shard order), the control block and the worker's slice number (1, 2, ...).
export interface WorkerInit {
  module: WebAssembly.Module;
  memories: WebAssembly.Memory[];
  control: SharedArrayBuffer;
  slice: number;
}
