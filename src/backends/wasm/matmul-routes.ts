// Which assembly kernel a matmul takes, by weight type and path (wasm/kernels.ts's matmul):
// the worker op and the export of each, the activation layouts of the integer paths
// (assembly/activations.ts) and the token count from which a call is a prompt.
import { Op } from './worker-ops.js';

export const MATMUL = { f32: Op.matmulF32, f16: Op.matmulF16, q8_0: Op.matmulQ8_0, q4_0: Op.matmulQ4_0 } as const;
export const MATMUL_EXPORT = { f32: 'matmulF32', f16: 'matmulF16', q8_0: 'matmulQ8_0', q4_0: 'matmulQ4_0' } as const;
// Weights with quantized activations when decoding: q8_0 / q4_0 (assembly/qmatmul.ts), q4_k /
// q5_k / q6_k (assembly/kdot.ts), q4_1 / q5_0 / q5_1 / iq4_nl (assembly/legacydot.ts), q2_k / q3_k
// (assembly/k16dot.ts: on the 8-bit dot product in both builds, so always I8 activations)
export const MATMUL_Q8 = {
  q8_0: Op.matmulQ8_0Q8, q4_0: Op.matmulQ4_0Q8, q4_k: Op.matmulQ4_KQ8, q5_k: Op.matmulQ5_KQ8, q6_k: Op.matmulQ6_KQ8,
  q4_1: Op.matmulQ4_1Q8, q5_0: Op.matmulQ5_0Q8, q5_1: Op.matmulQ5_1Q8, q2_k: Op.matmulQ2_KQ8, q3_k: Op.matmulQ3_KQ8,
  iq4_nl: Op.matmulIQ4_NLQ8,
} as const;
export const MATMUL_Q8_EXPORT = {
  q8_0: 'matmulQ8_0Q8', q4_0: 'matmulQ4_0Q8', q4_k: 'matmulQ4_KQ8', q5_k: 'matmulQ5_KQ8', q6_k: 'matmulQ6_KQ8',
  q4_1: 'matmulQ4_1Q8', q5_0: 'matmulQ5_0Q8', q5_1: 'matmulQ5_1Q8', q2_k: 'matmulQ2_KQ8', q3_k: 'matmulQ3_KQ8',
  iq4_nl: 'matmulIQ4_NLQ8',
} as const;
// Decoding on the 8-bit dot product (i8Dot): the same bits as MATMUL_Q8 (assembly/q6decode.ts,
// q8decode.ts, legacydot.ts; q8_0 only for tensors without a weight of −128), except q4_k /
// q5_k (assembly/kdot256.ts), whose activations are rounded by 256 instead of 32
export const MATMUL_I8 = {
  q8_0: Op.matmulQ8_0I8, q4_k: Op.matmulQ4_KI8, q5_k: Op.matmulQ5_KI8, q6_k: Op.matmulQ6_KI8,
  q4_1: Op.matmulQ4_1I8, q5_0: Op.matmulQ5_0I8, q5_1: Op.matmulQ5_1I8,
} as const;
export const MATMUL_I8_EXPORT = {
  q8_0: 'matmulQ8_0I8', q4_k: 'matmulQ4_KI8', q5_k: 'matmulQ5_KI8', q6_k: 'matmulQ6_KI8',
  q4_1: 'matmulQ4_1I8', q5_0: 'matmulQ5_0I8', q5_1: 'matmulQ5_1I8',
} as const;
export function isQuantizedDecode(dtype: string): dtype is keyof typeof MATMUL_Q8 {
  return Object.hasOwn(MATMUL_Q8, dtype);
}
// Types whose rows assembly/kblocks.ts decodes into f32 scratch (its type codes): for prompts,
// and for decoding with activations: 'f32'
export const DECODED_TYPE = { q4_1: 0, q5_0: 1, q5_1: 2, iq4_nl: 3, q2_k: 4, q3_k: 5, q4_k: 6, q5_k: 7, q6_k: 8 } as const;
// Prompts on these K-quants with quantized activations in the relaxed-SIMD build: an integer
// GEMM (assembly/kgemm.ts, which takes DECODED_TYPE's codes), the activations in layout 5
// (SUPER16_LAYOUT)
export const K_PROMPT_TYPES: readonly string[] = ['q2_k', 'q3_k', 'q4_k', 'q5_k', 'q6_k'] satisfies readonly (keyof typeof DECODED_TYPE)[];
export const K_PROMPT_LAYOUT = 5;
// From this many tokens on (prompts), q8_0 / q4_0 matmuls decode each block of weight rows
// once for the whole prompt and multiply in f32 (assembly/blocks.ts), whatever the option;
// but q4_0 with quantized activations in the relaxed-SIMD build goes through an integer GEMM
// (assembly/qgemm.ts, 1.2-1.3× faster), the activations quantized once, and so do q2_k..q6_k
// (assembly/kgemm.ts, K_PROMPT_TYPES above).
export const PROMPT_TOKENS = 4;
// quantizeActivations' layout for the weights the activations meet (assembly/activations.ts)
export const ACTIVATION_LAYOUT = { q8_0: 0, q4_0: 1, q4_k: 2, q5_k: 2, q6_k: 2, q4_1: 2, q5_0: 2, q5_1: 2, q2_k: 3, q3_k: 3, iq4_nl: 2 } as const;
// MATMUL_I8's kernels: i8 by blocks of 32 (layout 3), or by super-blocks of 256 with one scale
// each for q4_k / q5_k (layout 4, as llama.cpp's Q8_K: assembly/kdot256.ts)
export const I8_ACTIVATION_LAYOUT = { q8_0: 3, q4_k: 4, q5_k: 4, q6_k: 3, q4_1: 3, q5_0: 3, q5_1: 3 } as const;
// Bytes per block of 32 activations: 32 int16 quants, an f32 scale and an i32 sum
export const ACTIVATION_BLOCK_BYTES = 72;
