// Hugging Face LLaMA checkpoints (transformers' LlamaForCausalLM folder):
//
//   config.json                    hidden_size, intermediate_size, num_hidden_layers,
//                                  num_attention_heads, num_key_value_heads (= heads),
//                                  vocab_size, max_position_embeddings, rms_norm_eps,
//                                  rope_theta (10000), tie_word_embeddings (false),
//                                  rope_scaling (null; rope_type "llama3" or "linear")
//   model.safetensors              all tensors, or shards model-0000N-of-0000M.safetensors
//   model.safetensors.index.json   { weight_map: { tensor name: shard file } } for shards
//   tokenizer.model                SentencePiece model (or tokenizer.json, see
//                                  src/tokenizer/tokenizer-json.ts)
//
// Tensor names (HF) and ours (Meta's model.py), all [out, in]:
//   model.embed_tokens.weight                      tokenEmbedding  [V, C]
//   model.layers.N.input_layernorm.weight          attentionNorm   [C]
//   model.layers.N.self_attn.{q,k,v,o}_proj.weight wq wk wv wo     q/k rows permuted, see
//                                                                  huggingface-permute.ts
//   model.layers.N.post_attention_layernorm.weight ffnNorm         [C]
//   model.layers.N.mlp.{gate,down,up}_proj.weight  w1 w2 w3        [H, C], [C, H], [H, C]
//   model.norm.weight                              norm            [C]
//   lm_head.weight                                 output          [V, C]; tied: the embedding
// Storage: F32 stays f32 and F16 stays f16 (views into the file when aligned); BF16 has no
// WeightTensor type, so it is widened to f32 (exact). Norm gains are always f32.
import { headDim, validateConfig, type LlamaConfig } from '../../reference/config.js';
import { llama3FreqFactors, type Llama3RopeScaling } from '../../reference/rope.js';
import { f16ToF32, type WeightTensor } from '../../reference/tensor.js';
import { assembleWeights, type GlobalField, type LayerField, type LlamaModel, type ParameterSlot } from '../../reference/weights.js';
import { unpermuteFromHuggingFace } from './huggingface-permute.js';
import { parseSafetensors, type SafeTensor } from './safetensors.js';
import { f32View, u16View } from './tensor-views.js';

// Reading a folder from disk (Node) is in huggingface-folder.ts; this file needs no Node APIs.

// What config.json says, beyond the LlamaConfig.
export interface HuggingFaceConfig {
  config: LlamaConfig;
  bosTokenId?: number;
  eosTokenId?: number;
  torchDtype?: string;
}

// HF name of each field of a layer (model.layers.N.<name>); Meta's are in reference/weights.ts.
export const HF_LAYER_NAMES: Readonly<Record<LayerField, string>> = {
  attentionNorm: 'input_layernorm.weight',
  wq: 'self_attn.q_proj.weight',
  wk: 'self_attn.k_proj.weight',
  wv: 'self_attn.v_proj.weight',
  wo: 'self_attn.o_proj.weight',
  ffnNorm: 'post_attention_layernorm.weight',
  w1: 'mlp.gate_proj.weight',
  w2: 'mlp.down_proj.weight',
  w3: 'mlp.up_proj.weight',
};
export const HF_EMBEDDING = 'model.embed_tokens.weight';
export const HF_NORM = 'model.norm.weight';
export const HF_OUTPUT = 'lm_head.weight';

// The HF name of a parameter.
export function huggingFaceName(slot: ParameterSlot): string {
  if (slot.layer !== null) return `model.layers.${slot.layer}.${HF_LAYER_NAMES[slot.field]}`;
  return { tokenEmbedding: HF_EMBEDDING, norm: HF_NORM, output: HF_OUTPUT }[slot.field];
}

// --- config.json ------------------------------------------------------------------------

export function parseHuggingFaceConfig(text: string, fileName: string): HuggingFaceConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`${fileName}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`${fileName}: not a JSON object`);
  const j = raw as Record<string, unknown>;
  checkArchitecture(j, fileName);
  const int = (key: string, fallback?: number): number => {
    const v = j[key] ?? fallback;
    if (v === undefined) throw new Error(`${fileName}: missing field ${key}`);
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) throw new Error(`${fileName}: ${key} must be a positive integer, got ${JSON.stringify(v)}`);
    return v;
  };
  const num = (key: string, fallback: number): number => {
    const v = j[key] ?? fallback;
    if (typeof v !== 'number' || !(v > 0)) throw new Error(`${fileName}: ${key} must be a positive number, got ${JSON.stringify(v)}`);
    return v;
  };
  const nHeads = int('num_attention_heads');
  const config: LlamaConfig = {
    dim: int('hidden_size'),
    nLayers: int('num_hidden_layers'),
    nHeads,
    nKvHeads: int('num_key_value_heads', nHeads),
    hiddenDim: int('intermediate_size'),
    vocabSize: int('vocab_size'),
    maxSeqLen: int('max_position_embeddings', 2048),
    normEps: num('rms_norm_eps', 1e-6), // transformers' LlamaConfig default
    ropeTheta: num('rope_theta', 10000),
    sharedClassifier: j.tie_word_embeddings === true,
  };
  validateConfig(config, fileName);
  const ropeFreqFactors = ropeScalingFactors(j, headDim(config), config.ropeTheta, fileName);
  if (ropeFreqFactors) config.ropeFreqFactors = ropeFreqFactors;
  if (j.head_dim !== undefined && j.head_dim !== null && j.head_dim !== headDim(config)) {
    throw new Error(`${fileName}: head_dim ${JSON.stringify(j.head_dim)} differs from hidden_size / num_attention_heads = ${headDim(config)}`);
  }
  const optionalId = (key: string): number | undefined => (typeof j[key] === 'number' ? (j[key] as number) : undefined);
  return {
    config,
    bosTokenId: optionalId('bos_token_id'),
    eosTokenId: optionalId('eos_token_id'),
    torchDtype: typeof j.torch_dtype === 'string' ? j.torch_dtype : undefined,
  };
}

// Refuses configs that are not a plain LLaMA: other model types, biases,
// other activations (each would silently compute something else).
function checkArchitecture(j: Record<string, unknown>, fileName: string): void {
  if (j.model_type !== undefined && j.model_type !== 'llama') {
    throw new Error(`${fileName}: model_type is ${JSON.stringify(j.model_type)}, only "llama" is supported`);
  }
  const archs = j.architectures;
  if (Array.isArray(archs) && !archs.includes('LlamaForCausalLM')) {
    throw new Error(`${fileName}: architectures ${JSON.stringify(archs)} does not include "LlamaForCausalLM"`);
  }
  if (j.hidden_act !== undefined && j.hidden_act !== 'silu') {
    throw new Error(`${fileName}: hidden_act ${JSON.stringify(j.hidden_act)} is not supported (LLaMA uses "silu")`);
  }
  for (const key of ['attention_bias', 'mlp_bias']) {
    if (j[key] === true) throw new Error(`${fileName}: ${key} true is not supported (LLaMA has no biases)`);
  }
}

// --- rope_scaling -----------------------------------------------------------------------
//
// Read into the config's one representation of RoPE scaling, a divisor per pair
// (reference/rope.ts): "llama3" gives Llama 3.1's factors, "linear" the same factor for all.
// transformers 5 calls the object rope_parameters (and may put rope_theta in it).

export function ropeScalingFactors(j: Record<string, unknown>, hd: number, theta: number, fileName: string): number[] | undefined {
  const key = j.rope_scaling !== undefined && j.rope_scaling !== null ? 'rope_scaling' : 'rope_parameters';
  const raw = j[key];
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`${fileName}: ${key} must be an object or null, got ${JSON.stringify(raw)}`);
  const r = raw as Record<string, unknown>;
  const type = r.rope_type ?? r.type ?? 'default';
  const num = (field: string, fallback?: number): number => {
    const v = r[field] ?? fallback;
    if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) throw new Error(`${fileName}: ${key}.${field} must be a positive number, got ${JSON.stringify(v)}`);
    return v;
  };
  if (type === 'default') return undefined;
  if (type === 'linear') {
    const factor = num('factor');
    return factor === 1 ? undefined : new Array<number>(hd / 2).fill(factor);
  }
  if (type === 'llama3') {
    const scaling: Llama3RopeScaling = {
      factor: num('factor'),
      lowFreqFactor: num('low_freq_factor'),
      highFreqFactor: num('high_freq_factor'),
      originalContextLength: num('original_max_position_embeddings'),
    };
    if (!(scaling.highFreqFactor > scaling.lowFreqFactor)) {
      throw new Error(`${fileName}: ${key}.high_freq_factor ${scaling.highFreqFactor} must exceed low_freq_factor ${scaling.lowFreqFactor}`);
    }
    return llama3FreqFactors(hd, theta, scaling);
  }
  throw new Error(`${fileName}: ${key}.rope_type ${JSON.stringify(type)} is not supported (only "llama3" and "linear")`);
}

// Meta's Llama 3.1 / 3.2 / 3.3 settings, tried first when the factors came from a GGUF file
// (whose rope_freqs.weight keeps only the factors, not the settings they came from).
const META_LLAMA3 = { lowFreqFactor: 1, highFreqFactor: 4, originalContextLength: 8192 };

// The rope_scaling object for config.json that gives the config's RoPE factors: linear when
// all are equal, else Llama 3.1's settings that reproduce every factor (to float32 rounding:
// a GGUF stores them as F32). Throws when no such settings exist.
export function huggingFaceRopeScaling(c: LlamaConfig): Record<string, unknown> | null {
  const factors = c.ropeFreqFactors;
  if (!factors || factors.every((f) => f === 1)) return null;
  if (factors.every((f) => f === factors[0])) return { rope_type: 'linear', factor: factors[0] };
  const hd = headDim(c);
  const factor = Math.max(...factors);
  const reproduces = (s: Llama3RopeScaling) =>
    llama3FreqFactors(hd, c.ropeTheta, s).every((f, i) => Math.abs(f - factors[i]) <= 1e-6 * factors[i]);
  const candidates: Llama3RopeScaling[] = [{ factor, ...META_LLAMA3 }];
  // Between the plateaus s_i = (1/f_i − 1/factor) / (1 − 1/factor) = (N/λ_i − low) / (high − low):
  // two such pairs give low and high for N = 8192 (N only scales them).
  const N = META_LLAMA3.originalContextLength;
  const mid = factors.map((f, i) => ({ i, f })).filter(({ f }) => f > 1 * (1 + 1e-6) && f < factor * (1 - 1e-6));
  if (mid.length >= 2) {
    const s = (f: number) => (1 / f - 1 / factor) / (1 - 1 / factor);
    const nOverLambda = (i: number) => (N * Math.pow(c.ropeTheta, (-2 * i) / hd)) / (2 * Math.PI);
    const [a, b] = [mid[0], mid[mid.length - 1]];
    const span = (nOverLambda(a.i) - nOverLambda(b.i)) / (s(a.f) - s(b.f)); // high − low
    const low = nOverLambda(a.i) - s(a.f) * span;
    const round = (x: number) => Number(x.toPrecision(6));
    candidates.push({ factor, lowFreqFactor: round(low), highFreqFactor: round(low + span), originalContextLength: N });
  }
  const found = candidates.find(reproduces);
  if (!found) {
    throw new Error(`the model's RoPE frequency factors [${factors.join(', ')}] are neither linear nor Llama 3.1 scaling, which config.json cannot express`);
  }
  return {
    rope_type: 'llama3', factor: found.factor, low_freq_factor: found.lowFreqFactor,
    high_freq_factor: found.highFreqFactor, original_max_position_embeddings: found.originalContextLength,
  };
}

// --- tensors ----------------------------------------------------------------------------

// A tensor and the file it came from (for messages).
export interface LocatedTensor {
  tensor: SafeTensor;
  file: string;
}

// All tensors of a set of safetensors files by name; a name in two files is an error.
export function collectTensors(files: { name: string; bytes: Uint8Array }[]): Map<string, LocatedTensor> {
  const all = new Map<string, LocatedTensor>();
  for (const f of files) {
    for (const [name, tensor] of parseSafetensors(f.bytes, f.name).tensors) {
      const prev = all.get(name);
      if (prev) throw new Error(`${f.name}: tensor ${name} is also in ${prev.file}`);
      all.set(name, { tensor, file: f.name });
    }
  }
  return all;
}

// The model from HF tensors, checking every shape against config.json (`configName`).
export function modelFromHuggingFaceTensors(hf: HuggingFaceConfig, tensors: Map<string, LocatedTensor>, configName: string): LlamaModel {
  const c = hf.config;
  const C = c.dim, H = c.hiddenDim, V = c.vocabSize;
  const get = (name: string): LocatedTensor => {
    const t = tensors.get(name);
    if (!t) throw new Error(`${configName}: the checkpoint has no tensor ${name}`);
    return t;
  };
  // The config.json fields a matrix's shape follows from, for messages.
  const q = `num_attention_heads ${c.nHeads}, hidden_size ${C}`;
  const kv = `num_key_value_heads ${c.nKvHeads}, head dim ${headDim(c)}, hidden_size ${C}`;
  const ffn = `intermediate_size ${H}, hidden_size ${C}`;
  const embedding = `vocab_size ${V}, hidden_size ${C}`;
  const because: Partial<Record<LayerField | GlobalField, string>> = {
    tokenEmbedding: embedding, output: `${embedding}, tie_word_embeddings false`,
    wq: q, wk: kv, wv: kv, wo: q, w1: ffn, w2: ffn, w3: ffn,
  };
  const matrix = (slot: ParameterSlot, rows: number, cols: number): WeightTensor => {
    const name = huggingFaceName(slot);
    const w = toWeight(get(name), name, rows, cols, configName, because[slot.field]!);
    if (slot.field === 'wq') return unpermuteFromHuggingFace(w, c.nHeads, name);
    if (slot.field === 'wk') return unpermuteFromHuggingFace(w, c.nKvHeads, name);
    return w;
  };
  const gain = (slot: ParameterSlot, length: number): Float32Array => {
    const name = huggingFaceName(slot);
    return toGain(get(name), name, length, configName);
  };
  return { config: c, weights: assembleWeights(c, matrix, gain) };
}

function shapeError(t: LocatedTensor, name: string, expected: number[], configName: string, because: string): Error {
  return new Error(
    `${t.file}: tensor ${name} has shape [${t.tensor.shape.join(', ')}], but ${configName} (${because}) implies [${expected.join(', ')}]`,
  );
}

function toWeight(t: LocatedTensor, name: string, rows: number, cols: number, configName: string, because: string): WeightTensor {
  const { dtype, shape, bytes } = t.tensor;
  if (shape.length !== 2 || shape[0] !== rows || shape[1] !== cols) throw shapeError(t, name, [rows, cols], configName, because);
  const n = rows * cols;
  if (dtype === 'F32') return { dtype: 'f32', rows, cols, data: f32View(bytes, 0, n) };
  if (dtype === 'F16') return { dtype: 'f16', rows, cols, data: u16View(bytes, 0, n) };
  if (dtype === 'BF16') return { dtype: 'f32', rows, cols, data: bf16ToF32(u16View(bytes, 0, n)) };
  throw new Error(`${t.file}: tensor ${name} has dtype ${dtype}; only F32, F16 and BF16 weights can be read`);
}

function toGain(t: LocatedTensor, name: string, dim: number, configName: string): Float32Array {
  const { dtype, shape, bytes } = t.tensor;
  if (shape.length !== 1 || shape[0] !== dim) throw shapeError(t, name, [dim], configName, `hidden_size ${dim}`);
  if (dtype === 'F32') return f32View(bytes, 0, dim);
  if (dtype === 'F16') return Float32Array.from(u16View(bytes, 0, dim), f16ToF32);
  if (dtype === 'BF16') return bf16ToF32(u16View(bytes, 0, dim));
  throw new Error(`${t.file}: tensor ${name} has dtype ${dtype}; only F32, F16 and BF16 weights can be read`);
}

// bfloat16 is the top half of a float32, so widening is exact: shift the bits up.
export function bf16ToF32(halves: Uint16Array): Float32Array {
  const bits = new Uint32Array(halves.length); // [n] float32 bit patterns
  for (let i = 0; i < halves.length; i++) bits[i] = halves[i] << 16;
  return new Float32Array(bits.buffer);
}

// float32 → bfloat16 with round-to-nearest-even (what torch's .to(bfloat16) does);
// NaN stays a quiet NaN.
export function f32ToBf16(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length); // [n] float32 bits
  const out = new Uint16Array(values.length); // [n] bfloat16 bits
  for (let i = 0; i < values.length; i++) {
    const b = bits[i];
    if ((b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff) !== 0) {
      out[i] = (b >>> 16) | 0x40;
      continue;
    }
    const roundingBias = 0x7fff + ((b >>> 16) & 1);
    out[i] = ((b + roundingBias) >>> 16) & 0xffff;
  }
  return out;
}
