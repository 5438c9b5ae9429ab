// The WASM SIMD kernels of llama-ts: the same operations as reference/kernels.ts, over
// byte offsets into an imported (shared) linear memory. The JavaScript side
// (src/backends/wasm/) owns that memory, places weights and activations in it and calls
// these. No allocation happens in here: every buffer, scratch included, comes from the
// caller, so the runtime can be the stub and no GC ever runs.
//
// Build: node scripts/build-wasm.mjs (SIMD on; a relaxed-SIMD variant with fused
// multiply-add is the same source with --enable relaxed-simd, see simd.ts madd).

export { matmulF32, matmulF16 } from './matmul';
export { matmulQ8_0, matmulQ4_0, blockScratchBytes } from './blocks';
export { quantizeActivations } from './activations';
export { matmulQ8_0Q8, matmulQ4_0Q8 } from './qmatmul';
export { matmulQ4_0Prompt, promptActivationBytes, promptScratchBytes, quantizePrompt } from './qgemm';
export { matmulQ4_0I8 } from './qdecode';
export { matmulQ8_0I8, q8_0HasMinus128 } from './q8decode';
export { matmulDecoded } from './kblocks';
export { matmulKPrompt, kPromptScratchBytes } from './kgemm';
export { matmulQ4_KQ8, matmulQ5_KQ8, matmulQ6_KQ8 } from './kdot';
export { matmulQ4_KI8, matmulQ5_KI8 } from './kdot256';
export { matmulQ6_KI8 } from './q6decode';
export { matmulQ2_KQ8, matmulQ3_KQ8 } from './k16dot';
export { matmulQ4_1Q8, matmulQ5_0Q8, matmulQ5_1Q8, matmulIQ4_NLQ8, matmulQ4_1I8, matmulQ5_0I8, matmulQ5_1I8 } from './legacydot';
export { rmsnorm, rope, swiglu } from './elementwise';
export { attention, attentionHeads, softmax } from './attention';
export { gemmF32, transposeF32, rmsnormBackward, ropeBackward, softmaxF32, swigluF32, swigluBackward, attentionSequence, attentionSequenceBackward } from './backward';

// First byte the caller may use: everything below holds this module's static data.
export function heapBase(): usize {
  return __heap_base;
}
