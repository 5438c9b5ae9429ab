// The kernel micro-benchmark cases and the work each one does, so that a time becomes
// GFLOPS (2 per multiply-add) and GB/s. For matmul the bytes are the weight bytes read
// (what bounds decoding); for the others, the activation or cache bytes read and written.
import { rowBytes, type DType } from '../../reference/tensor.js';

export interface MatmulShape {
  name: string;
  N: number; // output width: weight rows
  K: number; // input width: weight columns
}

// A stories15M feed-forward matrix, a square 2048 one, and LLaMA-7B's feed-forward matrix.
export const MATMUL_SHAPES: readonly MatmulShape[] = [
  { name: '768x288', N: 768, K: 288 },
  { name: '2048x2048', N: 2048, K: 2048 },
  { name: '11008x4096', N: 11008, K: 4096 },
];
// The K-quants (Q4_K_M files are Q4_K and Q6_K) only where K is whole super-blocks of 256.
export const MATMUL_DTYPES: readonly DType[] = ['f32', 'f16', 'q8_0', 'q4_0', 'q4_k', 'q6_k'];
// What --types may name besides: every other weight type the kernels run (Q5_0 and Q5_1 are
// what Q4_K_M and Q5_K_M files hold where K is not whole super-blocks)
export const MORE_MATMUL_DTYPES: readonly DType[] = ['q4_1', 'q5_0', 'q5_1', 'iq4_nl', 'q2_k', 'q3_k', 'q5_k'];
export const MATMUL_TOKENS: readonly number[] = [1, 16]; // decode (matvec) and a prompt tile

export interface Work {
  flops: number;
  bytes: number;
}

export function matmulWork(shape: MatmulShape, dtype: DType, T: number): Work {
  return { flops: 2 * T * shape.N * shape.K, bytes: shape.N * rowBytes(dtype, shape.K) };
}

// LLaMA-7B's widths for the elementwise kernels and attention.
export const SMALL_KERNEL_DIMS = { T: 16, C: 4096, nHeads: 32, hd: 128, hidden: 11008 } as const;
export const ATTENTION_POSITIONS: readonly number[] = [256, 1024];

// rmsnorm of T rows of C: square-and-sum, then scale by the gain (≈4 flops a value); reads x
// and the gain, writes out.
export function rmsnormWork(T: number, C: number): Work {
  return { flops: 4 * T * C, bytes: 4 * (2 * T * C + C) };
}

// rope of T rows of nHeads·hd: a 2×2 rotation per pair (6 flops), in place.
export function ropeWork(T: number, nHeads: number, hd: number): Work {
  const pairs = (T * nHeads * hd) / 2;
  return { flops: 6 * pairs, bytes: 4 * 2 * 2 * pairs };
}

// One decode query over S cached positions: q·k and the weighted sum of v per head and
// position (2 flops each per dimension); reads the S rows of K and V.
export function attentionWork(S: number, nHeads: number, nKvHeads: number, hd: number): Work {
  return { flops: 4 * nHeads * hd * S, bytes: 4 * 2 * S * nKvHeads * hd };
}

// silu(gate)·up over n values (≈5 flops with the exponential counted as one); reads two, writes one.
export function swigluWork(n: number): Work {
  return { flops: 5 * n, bytes: 4 * 3 * n };
}

export interface KernelResult {
  kernel: string; // 'matmul', 'rmsnorm', ...
  shape: string; // e.g. '11008x4096 T=1', 'S=1024'
  dtype?: DType;
  impl: string; // 'ts', 'wasm', 'wasm-relaxed'
  secondsPerCall: number;
  rme: number; // benchmark.js relative margin of error, percent
  samples: number;
  gflops: number;
  gbPerSecond: number;
  speedupOverTs?: number; // this impl's speed ÷ the TypeScript reference's, same case
}

export function rates(work: Work, secondsPerCall: number): { gflops: number; gbPerSecond: number } {
  const r = (x: number) => Math.round(x * 1000) / 1000;
  return { gflops: r(work.flops / secondsPerCall / 1e9), gbPerSecond: r(work.bytes / secondsPerCall / 1e9) };
}

// Fills speedupOverTs of every non-TS result from the TS result of the same case.
export function addSpeedups(results: KernelResult[]): void {
  const key = (r: KernelResult) => `${r.kernel}|${r.shape}|${r.dtype ?? ''}`;
  const ts = new Map(results.filter((r) => r.impl === 'ts').map((r) => [key(r), r.secondsPerCall]));
  for (const r of results) {
    const base = ts.get(key(r));
    if (r.impl !== 'ts' && base !== undefined) r.speedupOverTs = Math.round((base / r.secondsPerCall) * 100) / 100;
  }
}
