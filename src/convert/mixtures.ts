// llama.cpp's K-quant mixtures (`llama-quantize ... Q4_K_M` etc.): which type each matrix of a
// `llama` model gets, as src/llama-quant.cpp (llama_tensor_get_type_impl) decides it without an
// importance matrix. The mixture picks a type per tensor from its role and layer; storage.ts
// then applies the per-tensor fallback for rows that are not whole blocks (storedType), as
// llama.cpp's tensor_type_fallback does after the mixture.
//
// What llama.cpp does, for the llama architecture (no experts, not Falcon):
//
//   tensor              Q2_K        Q3_K_S  Q3_K_M             Q3_K_L  Q4_K_S          Q4_K_M        Q5_K_S  Q5_K_M        Q6_K
//   base type           q2_k        q3_k    q3_k               q3_k    q4_k            q4_k          q5_k    q5_k          q6_k
//   output (or a tied   q6_k        q6_k    q6_k               q6_k    q6_k            q6_k          q6_k    q6_k          q6_k
//     token_embd)
//   token_embd          base        base    base               base    base            base          base    base          base
//   attn_v              q3_k (q4_k  base    q5_k layers 0,1,   q5_k    q5_k layers     q6_k if more  base    q6_k if more  base
//                       if GQA≥4)           else q4_k                  0..3            bits                  bits
//   ffn_down            q3_k        base    q5_k if l < n/16,  q5_k    q5_k if l < n/8 q6_k if more  base    q6_k if more  base
//                                           else q4_k                                  bits                  bits
//   attn_output         q3_k        base    q4_k               q5_k    base            base          base    base          base
//   attn_q, attn_k,     base        ...     (base everywhere)
//     ffn_gate, ffn_up
//
// "more bits" is use_more_bits(l, n): the first and last eighth of the layers and every third
// one between them. The output rule in full: if its rows are not whole blocks of the base type,
// q8_0; else q6_k (llama.cpp keeps q8_0 for a Q8_0 file; that is not a mixture here). The
// 70B rule (80 layers with grouped KV heads: attn_v q3_k/q4_k -> q5_k) is kept too.
// The attn_v and ffn_down counters in llama.cpp count tensors in the order it visits them,
// which is sorted by layer, so they are the layer index for a llama model.
import type { DType } from '../../reference/tensor.js';
import type { LayerMatrix } from '../../reference/weights.js';

export type MixtureName = 'q2_k' | 'q3_k_s' | 'q3_k_m' | 'q3_k_l' | 'q4_k_s' | 'q4_k_m' | 'q5_k_s' | 'q5_k_m' | 'q6_k';
export const MIXTURE_NAMES: readonly MixtureName[] = ['q2_k', 'q3_k_s', 'q3_k_m', 'q3_k_l', 'q4_k_s', 'q4_k_m', 'q5_k_s', 'q5_k_m', 'q6_k'];

export function isMixture(type: string): type is MixtureName {
  return (MIXTURE_NAMES as readonly string[]).includes(type);
}

// llama.cpp's `enum llama_ftype` (include/llama.h), written as general.file_type.
export const MIXTURE_FILE_TYPE: Readonly<Record<MixtureName, number>> = {
  q2_k: 10, q3_k_s: 11, q3_k_m: 12, q3_k_l: 13, q4_k_s: 14, q4_k_m: 15, q5_k_s: 16, q5_k_m: 17, q6_k: 18,
};

// The type most matrices get (llama_ftype_get_default_type).
export const MIXTURE_BASE: Readonly<Record<MixtureName, DType>> = {
  q2_k: 'q2_k', q3_k_s: 'q3_k', q3_k_m: 'q3_k', q3_k_l: 'q3_k', q4_k_s: 'q4_k', q4_k_m: 'q4_k', q5_k_s: 'q5_k', q5_k_m: 'q5_k', q6_k: 'q6_k',
};

// A matrix by what it does, in GGUF's names (blk.N.<role>.weight).
export type TensorRole = 'token_embd' | 'output' | 'attn_q' | 'attn_k' | 'attn_v' | 'attn_output' | 'ffn_gate' | 'ffn_down' | 'ffn_up';
export const LAYER_ROLE: Readonly<Record<LayerMatrix, TensorRole>> = {
  wq: 'attn_q', wk: 'attn_k', wv: 'attn_v', wo: 'attn_output', w1: 'ffn_gate', w2: 'ffn_down', w3: 'ffn_up',
};

export interface MixtureModelShape {
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  sharedClassifier: boolean; // the token embedding is also the classifier (no output.weight)
}

// The first and last eighth of the layers, and every third layer between them.
export function useMoreBits(layer: number, nLayers: number): boolean {
  const eighth = Math.floor(nLayers / 8);
  return layer < eighth || layer >= Math.floor((7 * nLayers) / 8) || (layer - eighth) % 3 === 2;
}

// The type llama.cpp's mixture asks for one matrix (before the fallback for rows that are not
// whole blocks). `cols` is the row length, which decides the classifier's type.
export function mixtureType(mixture: MixtureName, role: TensorRole, layer: number, cols: number, shape: MixtureModelShape): DType {
  const base = MIXTURE_BASE[mixture];
  const n = shape.nLayers;
  if (role === 'output' || (role === 'token_embd' && shape.sharedClassifier)) {
    return cols % 256 !== 0 ? 'q8_0' : 'q6_k'; // every base here is a K-quant (blocks of 256)
  }
  if (role === 'attn_v') return attnVType(mixture, layer, n, shape) ?? base;
  if (role === 'ffn_down') {
    switch (mixture) {
      case 'q2_k': return 'q3_k';
      case 'q3_k_m': return layer < Math.floor(n / 16) ? 'q5_k' : 'q4_k';
      case 'q3_k_l': return 'q5_k';
      case 'q4_k_m': case 'q5_k_m': return useMoreBits(layer, n) ? 'q6_k' : base;
      case 'q4_k_s': return layer < Math.floor(n / 8) ? 'q5_k' : base;
      default: return base;
    }
  }
  if (role === 'attn_output') {
    switch (mixture) {
      case 'q2_k': return 'q3_k';
      case 'q3_k_m': return 'q4_k';
      case 'q3_k_l': return 'q5_k';
      default: return base;
    }
  }
  return base; // token_embd (untied), attn_q, attn_k, ffn_gate, ffn_up
}

function attnVType(mixture: MixtureName, layer: number, n: number, shape: MixtureModelShape): DType | undefined {
  const gqa = shape.nHeads / shape.nKvHeads;
  let type: DType | undefined;
  switch (mixture) {
    case 'q2_k': type = gqa >= 4 ? 'q4_k' : 'q3_k'; break;
    case 'q3_k_m': type = layer < 2 ? 'q5_k' : 'q4_k'; break;
    case 'q3_k_l': type = 'q5_k'; break;
    case 'q4_k_m': case 'q5_k_m': type = useMoreBits(layer, n) ? 'q6_k' : undefined; break;
    case 'q4_k_s': type = layer < 4 ? 'q5_k' : undefined; break;
    default: break;
  }
  // llama.cpp's LLM_TYPE_70B (80 layers, grouped KV heads): its attn_v is 8x smaller than
  // attn_q, so a few more bits there cost little.
  const is70B = n === 80 && shape.nKvHeads !== shape.nHeads;
  const chosen = type ?? MIXTURE_BASE[mixture];
  if (is70B && (chosen === 'q3_k' || chosen === 'q4_k')) return 'q5_k';
  return type;
}
