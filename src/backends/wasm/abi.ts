// The WASM ABI of the kernels module (assembly/index.ts): what it exports and what it
// imports. The one description of it that module.ts (instantiation on the main thread),
// worker-ops.ts (what a thread's slice of a job calls), kernels.ts and training.ts share, so
// that none of them imports another just for the types.
//
// Pointers are byte offsets into the shared memory; n0..n1, h0..h1, g0..g1 and p0..p1 are
// the rows, heads, kv heads or columns a call computes (the threads split a job by them).
//
// This file imports nothing: it is bundled into the worker script.

export interface KernelExports {
  // First byte the caller may use: everything below holds the module's static data.
  heapBase(): number;

  // ---- inference (assembly/matmul.ts, blocks.ts, activations.ts, qmatmul.ts, elementwise.ts, attention.ts)
  matmulF32(out: number, x: number, w: number, T: number, K: number, N: number, n0: number, n1: number): void;
  matmulF16(out: number, x: number, w: number, T: number, K: number, N: number, n0: number, n1: number): void;
  // q8_0 / q4_0 weights with f32 activations (assembly/blocks.ts); from T = 4 on the weights
  // are decoded a block of rows at a time into scratch, blockScratchBytes(K) bytes a thread
  matmulQ8_0(out: number, x: number, w: number, T: number, K: number, N: number, n0: number, n1: number, scratch: number): void;
  matmulQ4_0(out: number, x: number, w: number, T: number, K: number, N: number, n0: number, n1: number, scratch: number): void;
  blockScratchBytes(K: number): number;
  // x [T, K] f32 -> xq (72·T·K/32 bytes): blocks of 32 as int16 with an f32 scale each
  // (assembly/activations.ts)
  // layout 0 for q8_0 weights, 1 for q4_0 (its four lane groups stored times 256, 1, 16, 256),
  // 2 for q4_k / q5_k / q6_k (natural order), 3 for them on the 8-bit dot product (i8 in
  // natural order, sums of each sixteen as two i16), 4 for q4_k / q5_k on it (i8 by
  // super-blocks of 256 with one scale each, sums of each 32)
  quantizeActivations(xq: number, x: number, T: number, K: number, layout: number): void;
  // matmul of q8_0 / q4_0 weights with activations quantized by quantizeActivations, in integers
  matmulQ8_0Q8(out: number, xq: number, w: number, T: number, K: number, N: number, n0: number, n1: number): void;
  matmulQ4_0Q8(out: number, xq: number, w: number, T: number, K: number, N: number, n0: number, n1: number): void;
  // prompts (T ≥ 4) on q4_0 weights as an integer GEMM (assembly/qgemm.ts): x quantized once by
  // quantizePrompt into promptActivationBytes(T, K) bytes, weight rows unpacked into
  // promptScratchBytes(K) bytes of scratch a thread
  quantizePrompt(xq: number, x: number, T: number, K: number): void;
  promptActivationBytes(T: number, K: number): number;
  promptScratchBytes(K: number): number;
  matmulQ4_0Prompt(out: number, xq: number, w: number, T: number, K: number, N: number, n0: number, n1: number, scratch: number): void;
  // decoding (T < 4) on q4_0 weights with the same quantized x (assembly/qdecode.ts)
  matmulQ4_0I8(out: number, xq: number, w: number, T: number, K: number, N: number, n0: number, n1: number): void;
  // q4_k / q5_k / q6_k weights with activations quantized by quantizeActivations (layout 2, natural
  // order), in integers (assembly/kdot.ts)
  matmulQ4_KQ8(out: number, xq: number, w: number, T: number, K: number, N: number, n0: number, n1: number): void;
  matmulQ5_KQ8(out: number, xq: number, w: number, T: number, K: number, N: number, n0: number, n1: number): void;
  matmulQ6_KQ8(out: number, xq: number, w: number, T: number, K: number, N: number, n0: number, n1: number): void;
  // the same on the 8-bit dot product: q4_k / q5_k with x in layout 4, by super-blocks of 256
  // (assembly/kdot256.ts), q6_k in layout 3 (assembly/q6decode.ts)
  matmulQ4_KI8(out: number, xq: number, w: number, T: number, K: number, N: number, n0: number, n1: number): void;
  matmulQ5_KI8(out: number, xq: number, w: number, T: number, K: number, N: number, n0: number, n1: number): void;
  matmulQ6_KI8(out: number, xq: number, w: number, T: number, K: number, N: number, n0: number, n1: number): void;
  // q4_1 / q5_0 / q5_1 the same two ways (layout 2 or 3; assembly/legacydot.ts)
  matmulQ4_1Q8(out: number, xq: number, w: number, T: number, K: number, N: number, n0: number, n1: number): void;
  matmulQ5_0Q8(out: number, xq: number, w: number, T: number, K: number, N: number, n0: number, n1: number): void;
  matmulQ5_1Q8(out: number, xq: number, w: number, T: number, K: number, N: number, n0: number, n1: number): void;
  matmulQ4_1I8(out: number, xq: number, w: number, T: number, K: number, N: number, n0: number, n1: number): void;
  matmulQ5_0I8(out: number, xq: number, w: number, T: number, K: number, N: number, n0: number, n1: number): void;
  matmulQ5_1I8(out: number, xq: number, w: number, T: number, K: number, N: number, n0: number, n1: number): void;
  // iq4_nl, x in layout 2 in both builds (assembly/legacydot.ts)
  matmulIQ4_NLQ8(out: number, xq: number, w: number, T: number, K: number, N: number, n0: number, n1: number): void;
  // q2_k / q3_k, x in layout 3 in both builds (assembly/k16dot.ts)
  matmulQ2_KQ8(out: number, xq: number, w: number, T: number, K: number, N: number, n0: number, n1: number): void;
  matmulQ3_KQ8(out: number, xq: number, w: number, T: number, K: number, N: number, n0: number, n1: number): void;
  // q8_0 the same way (assembly/q8decode.ts), for tensors without a weight of −128, which
  // q8_0HasMinus128 finds (1) in `blocks` blocks at w
  matmulQ8_0I8(out: number, xq: number, w: number, T: number, K: number, N: number, n0: number, n1: number): void;
  q8_0HasMinus128(w: number, blocks: number): number;
  // q4_1, q5_0, q5_1, iq4_nl and q2_k..q6_k (type codes 0..8, assembly/kblocks.ts) with f32
  // activations: rows decoded a block at a time into scratch, blockScratchBytes(K) bytes a thread
  matmulDecoded(type: number, out: number, x: number, w: number, T: number, K: number, N: number, n0: number, n1: number, scratch: number): void;
  // prompts on q2_k..q6_k (type codes 4..8) as an integer GEMM, x in layout 5, rows unpacked into
  // kPromptScratchBytes(K) bytes a thread (assembly/kgemm.ts)
  matmulKPrompt(type: number, out: number, xq: number, w: number, T: number, K: number, N: number, n0: number, n1: number, scratch: number): void;
  kPromptScratchBytes(K: number): number;
  rmsnorm(out: number, x: number, gain: number, T: number, C: number, eps: number): void;
  rope(x: number, T: number, nHeads: number, hd: number, pos0: number, freqs: number): void; // freqs: f64 [hd/2]
  swiglu(out: number, gate: number, up: number, n: number): void;
  softmax(x: number, n: number): void;
  attention(
    out: number, q: number, kCache: number, vCache: number, scores: number,
    T: number, pos0: number, nHeads: number, nKvHeads: number, hd: number,
  ): void;
  attentionHeads(
    out: number, q: number, kCache: number, vCache: number, scores: number,
    T: number, pos0: number, nHeads: number, nKvHeads: number, hd: number, h0: number, h1: number,
  ): void;
  // causal attention of a sequence from position 0 as matrix products (assembly/attention-sequence.ts),
  // for prompts and training: scratch scores [T, T] and kT [hd, T]; kv heads g0..g1
  attentionSequence(
    out: number, q: number, k: number, v: number, scores: number, kT: number,
    T: number, nHeads: number, nKvHeads: number, hd: number, g0: number, g1: number,
  ): void;

  // ---- training (assembly/backward.ts, gemm.ts, attention-sequence.ts)
  // C[M, P] (+)= A[M, R] · B[R, P], columns p0..p1 (whole panels of 8 but at the end)
  gemmF32(c: number, a: number, b: number, M: number, R: number, P: number, p0: number, p1: number, accumulate: number): void;
  // scratch p, dp, pT [T, T] and kT, vT [hd, T]; kv heads g0..g1
  attentionSequenceBackward(
    dq: number, dk: number, dv: number, dout: number, q: number, k: number, v: number,
    p: number, dp: number, pT: number, kT: number, vT: number,
    T: number, nHeads: number, nKvHeads: number, hd: number, g0: number, g1: number,
  ): void;
  transposeF32(dst: number, src: number, rows: number, cols: number): void;
  rmsnormBackward(dx: number, dgain: number, dout: number, x: number, gain: number, T: number, C: number, eps: number): void;
  ropeBackward(dx: number, T: number, nHeads: number, hd: number, pos0: number, freqs: number): void; // freqs: f64 [hd/2]
  swigluBackward(dgate: number, dup: number, dout: number, gate: number, up: number, n: number): void;
  softmaxF32(x: number, n: number): void;
  swigluF32(out: number, gate: number, up: number, n: number): void;
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
