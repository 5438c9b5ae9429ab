// The protocol between the pool (pool.ts) and its worker threads (worker.ts): the control
// block's layout, the jobs, and how one thread runs its slice of a job. The main thread and
// every worker call runSlice with the same control block, so each output row, column panel
// or attention head is computed by exactly one thread with the same kernel code: results
// do not depend on the number of threads, bit for bit. Inference (kernels.ts) and training
// (training.ts) use the same pool and protocol; only their ops differ.
//
// This file imports nothing at run time: it is bundled into the worker script.
import type { KernelExports } from './abi.js';

// ---- control block: Int32 slots, then two text areas, over one SharedArrayBuffer

// Int32 slots. The main thread writes the job (op, shard, slices, args), resets the failure
// slots and PENDING, then bumps GEN, which publishes all of it. Workers write only PENDING
// (counting down), the failure slots and the broken slots.
export const Slot = {
  gen: 0, // job generation: bumped (and notified) once per job; workers wait on it
  pending: 1, // workers that have not finished the current job; the main thread waits for 0
  op: 2, // what to run (Op below)
  shard: 3, // which WASM memory (and instance) the pointers refer to
  slices: 4, // threads taking part: the main thread is slice 0, worker i is slice i+1
  failed: 5, // first worker slice whose job threw (claimed by compareExchange); it goes on serving
  failedLength: 6, // bytes of its message in the failure text area
  brokenClaim: 7, // 1 once someone has begun to report the pool broken (one report wins)
  broken: 8, // slice of a worker that died or broke the protocol; its reason in the broken text area
  brokenLength: 9,
  args: 10, // MAX_ARGS integer arguments of the kernel (byte offsets and sizes)
} as const;
export const MAX_ARGS = 16;
const INTS = 32; // Slot.args + MAX_ARGS, rounded up
const TEXT_BYTES = 256;
const FAILED_TEXT = 4 * INTS; // byte offset of the failure text area [TEXT_BYTES]
const BROKEN_TEXT = FAILED_TEXT + TEXT_BYTES; // byte offset of the broken text area [TEXT_BYTES]
export const CONTROL_BYTES = BROKEN_TEXT + TEXT_BYTES;

// Added to PENDING by whoever reports the pool broken, after writing Slot.broken: PENDING
// is the word the main thread sleeps on, so changing it (and notifying) wakes the main
// thread or makes its next Atomics.wait return at once, whatever the interleaving; it then
// sees Slot.broken. Large enough that the live workers' count-down never brings it to 0.
export const BROKEN_PENDING = 1 << 24;

// ---- jobs

export const Op = {
  stop: 0,
  matmulF32: 1, // args: out x w T K N
  matmulF16: 2,
  matmulQ8_0: 3, // args as matmul, then scratch and its bytes per thread (blockScratchBytes)
  matmulQ4_0: 4,
  attention: 5, // args: out q k v scores T pos0 nHeads nKvHeads hd scoresStride
  matmulQ8_0Q8: 6, // args as matmul, with x the quantized activations (quantizeActivations)
  matmulQ4_0Q8: 7,
  attentionSequence: 8, // args: out q k v scratch T nHeads nKvHeads hd scratchStride (from position 0)
  gemmF32: 9, // args: c a b M R P accumulate (training's matrix product, split by column panels)
  attentionSequenceBackward: 10, // args: dq dk dv dout q k v scratch T nHeads nKvHeads hd scratchStride
  matmulQ4_KQ8: 11, // as matmulQ8_0Q8 (assembly/kdot.ts)
  matmulQ6_KQ8: 12,
  matmulDecoded: 13, // args as matmulQ8_0, then the type code (assembly/kblocks.ts)
  matmulQ5_KQ8: 14,
  matmulQ4_0Prompt: 15, // args as matmulQ4_0, with x from quantizePrompt (assembly/qgemm.ts)
  matmulQ4_0I8: 16, // args as matmulQ4_0Q8, with x from quantizePrompt (assembly/qdecode.ts)
  matmulQ6_KI8: 17, // as matmulQ8_0Q8, x in quantizeActivations' layout 3 (assembly/q6decode.ts)
  matmulQ4_KI8: 18, // the same (assembly/kdot.ts)
  matmulQ5_KI8: 19,
  matmulQ8_0I8: 20, // the same (assembly/q8decode.ts)
  matmulQ4_1Q8: 21, // as matmulQ4_KQ8 (assembly/legacydot.ts)
  matmulQ5_0Q8: 22,
  matmulQ5_1Q8: 23,
  matmulQ4_1I8: 24, // as matmulQ4_KI8 (assembly/legacydot.ts)
  matmulQ5_0I8: 25,
  matmulQ5_1I8: 26,
  matmulQ2_KQ8: 27, // as matmulQ4_KI8, in both builds (assembly/k16dot.ts)
  matmulQ3_KQ8: 28,
  matmulIQ4_NLQ8: 29, // as matmulQ4_1Q8, in both builds (assembly/legacydot.ts)
  matmulKPrompt: 30, // as matmulDecoded, with x from quantizeActivations' layout 5 (assembly/kgemm.ts)
} as const;
export type OpCode = (typeof Op)[keyof typeof Op];

const OP_NAMES: readonly string[] = Object.entries(Op).sort((a, b) => a[1] - b[1]).map(([name]) => name);

// The op's name for messages, or undefined for a code that is no op.
export function opName(op: number): string | undefined {
  return Number.isInteger(op) && op >= 0 ? OP_NAMES[op] : undefined;
}

const MATMUL_EXPORT = {
  [Op.matmulF32]: 'matmulF32',
  [Op.matmulF16]: 'matmulF16',
  [Op.matmulQ8_0]: 'matmulQ8_0',
  [Op.matmulQ4_0]: 'matmulQ4_0',
  [Op.matmulQ8_0Q8]: 'matmulQ8_0Q8',
  [Op.matmulQ4_0Q8]: 'matmulQ4_0Q8',
  [Op.matmulQ4_KQ8]: 'matmulQ4_KQ8',
  [Op.matmulQ5_KQ8]: 'matmulQ5_KQ8',
  [Op.matmulQ6_KQ8]: 'matmulQ6_KQ8',
  [Op.matmulQ4_0Prompt]: 'matmulQ4_0Prompt',
  [Op.matmulQ4_0I8]: 'matmulQ4_0I8',
  [Op.matmulQ6_KI8]: 'matmulQ6_KI8',
  [Op.matmulQ4_KI8]: 'matmulQ4_KI8',
  [Op.matmulQ5_KI8]: 'matmulQ5_KI8',
  [Op.matmulQ8_0I8]: 'matmulQ8_0I8',
  [Op.matmulQ4_1Q8]: 'matmulQ4_1Q8',
  [Op.matmulQ5_0Q8]: 'matmulQ5_0Q8',
  [Op.matmulQ5_1Q8]: 'matmulQ5_1Q8',
  [Op.matmulQ4_1I8]: 'matmulQ4_1I8',
  [Op.matmulQ5_0I8]: 'matmulQ5_0I8',
  [Op.matmulQ5_1I8]: 'matmulQ5_1I8',
  [Op.matmulQ2_KQ8]: 'matmulQ2_KQ8',
  [Op.matmulQ3_KQ8]: 'matmulQ3_KQ8',
  [Op.matmulIQ4_NLQ8]: 'matmulIQ4_NLQ8',
} as const;

// Rows lo .. hi-1 of `total` for slice `i` of `n`: contiguous, sizes differing by at most one.
export function sliceRange(total: number, i: number, n: number): [number, number] {
  return [Math.floor((i * total) / n), Math.floor(((i + 1) * total) / n)];
}

// Columns of slice i of n: multiples of 8 (gemmF32's whole panels) except at the end.
export function columnRange(P: number, i: number, n: number): [number, number] {
  const [lo, hi] = sliceRange(Math.ceil(P / 8), i, n);
  return [Math.min(lo * 8, P), Math.min(hi * 8, P)];
}

// Floats of per-slice scratch the sequence attention jobs need: [T, T] scores and [hd, T]
// keys forward; p, dp, pT [T, T] and kT, vT [hd, T] backward.
export function attentionScratch(T: number, hd: number, backward: boolean): number {
  return backward ? 3 * T * T + 2 * hd * T : T * T + hd * T;
}

// Runs this thread's share of the job described in `control`; throws on an op it does not know.
export function runSlice(wasm: KernelExports, control: Int32Array, slice: number): void {
  const op = control[Slot.op];
  const slices = control[Slot.slices];
  const a = (i: number): number => control[Slot.args + i] >>> 0; // byte offsets may pass 2 GiB
  if (op in MATMUL_EXPORT) {
    // matmul(out, x, w, T, K, N): split the N weight rows
    // (q8_0 / q4_0 with f32 activations: each slice its own scratch, a(6) + slice·a(7))
    const [n0, n1] = sliceRange(a(5), slice, slices);
    const scratch = a(6) + slice * a(7);
    if (n0 < n1) wasm[MATMUL_EXPORT[op as keyof typeof MATMUL_EXPORT]](a(0), a(1), a(2), a(3), a(4), a(5), n0, n1, scratch);
  } else if (op === Op.matmulDecoded || op === Op.matmulKPrompt) {
    // as above, the K-quants and the other block types decoded (or unpacked) into scratch; a(8) the type code
    const [n0, n1] = sliceRange(a(5), slice, slices);
    const kernel = op === Op.matmulDecoded ? wasm.matmulDecoded : wasm.matmulKPrompt;
    if (n0 < n1) kernel(a(8), a(0), a(1), a(2), a(3), a(4), a(5), n0, n1, a(6) + slice * a(7));
  } else if (op === Op.attention) {
    // attention over query heads; each slice has its own scores scratch
    const [h0, h1] = sliceRange(a(7), slice, slices);
    const scores = a(4) + slice * a(10);
    if (h0 < h1) wasm.attentionHeads(a(0), a(1), a(2), a(3), scores, a(5), a(6), a(7), a(8), a(9), h0, h1);
  } else if (op === Op.attentionSequence) {
    // over kv heads; each slice has its own scratch: scores [T, T], then Kᵀ [hd, T]
    const [g0, g1] = sliceRange(a(7), slice, slices);
    const s = a(4) + slice * a(9);
    const T = a(5);
    if (g0 < g1) wasm.attentionSequence(a(0), a(1), a(2), a(3), s, s + 4 * T * T, T, a(6), a(7), a(8), g0, g1);
  } else if (op === Op.gemmF32) {
    // C[M, P] (+)= A[M, R] · B[R, P]: split the P columns in whole panels of 8
    const [p0, p1] = columnRange(a(5), slice, slices);
    if (p0 < p1) wasm.gemmF32(a(0), a(1), a(2), a(3), a(4), a(5), p0, p1, a(6));
  } else if (op === Op.attentionSequenceBackward) {
    // over kv heads; each slice has its own scratch: p, dp, pT [T, T], then kT, vT [hd, T]
    const [g0, g1] = sliceRange(a(10), slice, slices);
    const s = a(7) + slice * a(12);
    const [T, hd] = [a(8), a(11)];
    const [tt, ht] = [4 * T * T, 4 * hd * T]; // bytes of a [T, T] and an [hd, T] matrix
    if (g0 < g1) {
      wasm.attentionSequenceBackward(a(0), a(1), a(2), a(3), a(4), a(5), a(6), s, s + tt, s + 2 * tt, s + 3 * tt, s + 3 * tt + ht, T, a(9), a(10), hd, g0, g1);
    }
  } else {
    throw new Error(`unknown op ${op}`);
  }
}

// ---- failures and breakage, with their messages

// `text` into the text area at byte `at`, UTF-8, cut to TEXT_BYTES.
function writeText(control: Int32Array, at: number, lengthSlot: number, text: string): void {
  const bytes = new TextEncoder().encode(text).subarray(0, TEXT_BYTES);
  new Uint8Array(control.buffer, at, TEXT_BYTES).set(bytes);
  Atomics.store(control, lengthSlot, bytes.length);
}

function readText(control: Int32Array, at: number, lengthSlot: number): string {
  const length = Math.min(Atomics.load(control, lengthSlot), TEXT_BYTES);
  // a copy: browsers' TextDecoder refuses views of shared memory
  return new TextDecoder().decode(new Uint8Array(control.buffer, at, length).slice());
}

// A worker whose slice threw: the first one records its slice and message (the main thread
// throws them once PENDING reaches 0; the count-down publishes them).
export function reportFailure(control: Int32Array, slice: number, error: unknown): void {
  if (Atomics.compareExchange(control, Slot.failed, 0, slice) === 0) writeText(control, FAILED_TEXT, Slot.failedLength, describe(error));
}

export function failureText(control: Int32Array): string {
  return readText(control, FAILED_TEXT, Slot.failedLength);
}

// The pool can no longer run jobs: worker `slice` died or broke the protocol. The first
// report wins; it writes the reason, then Slot.broken, then changes PENDING and notifies,
// so that a main thread asleep in (or about to enter) its wait on PENDING sees it.
export function reportBroken(control: Int32Array, slice: number, reason: string): void {
  if (Atomics.compareExchange(control, Slot.brokenClaim, 0, 1) !== 0) return;
  writeText(control, BROKEN_TEXT, Slot.brokenLength, reason);
  Atomics.store(control, Slot.broken, slice);
  Atomics.add(control, Slot.pending, BROKEN_PENDING);
  Atomics.notify(control, Slot.pending);
}

export function brokenText(control: Int32Array): string {
  return readText(control, BROKEN_TEXT, Slot.brokenLength);
}

// An error as one line: "RuntimeError: memory access out of bounds".
export function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

// ---- starting the threads

// Test-only hooks (tests/worker-protocol.test.ts), given to WorkerPool.start or, in Node, as
// JSON in $LLAMA_TS_POOL_TEST_HOOKS. Absent in normal use; when absent they cost one check
// per job.
export interface PoolTestHooks {
  // The main thread, between bumping GEN and its notify, waits until the workers have done
  // the job and then this many microseconds more: the late notify of the old hang.
  stallNotifyMicros?: number;
  failStart?: number; // the worker of this slice throws while starting
  exitOn?: { op: string; slice: number }; // the worker of this slice ends its thread on this op
  throwOutsideOn?: { op: string; slice: number }; // ... throws outside the job's try on this op
}
export const TEST_HOOKS_ENV = 'LLAMA_TS_POOL_TEST_HOOKS';

// The message that starts a kernels worker: the compiled module, every memory (one per
// shard, in shard order), the control block and the worker's slice number (1, 2, ...).
export interface KernelsInit {
  role: 'kernels';
  module: WebAssembly.Module;
  memories: WebAssembly.Memory[];
  control: SharedArrayBuffer;
  slice: number;
  hooks?: PoolTestHooks;
}

// The message that starts the supervisor (Node): it starts `workers` kernels workers from
// `script` (this same worker script) and watches them (worker.ts).
export interface SupervisorInit extends Omit<KernelsInit, 'role' | 'slice'> {
  role: 'supervisor';
  script: string;
  workers: number;
}

// What a worker answers its parent once started (or not).
export type StartReply = { ready: true } | { ready: false; error: string };
