// A LLaMA from a parsed GGUF file (llama.cpp's `llama` architecture): the config from the
// `llama.*` metadata, the weights as views into the file. ggufLayout needs the header alone
// (and a way to compare two tensors' bytes), for loaders that place the weights elsewhere.
//
// Tensor names: llama.cpp's, keyed by our fields (reference/weights.ts, which holds Meta's
// names for the same fields) in GGUF_LAYER_NAMES and GGUF_GLOBAL_NAMES below. output.weight
// absent, or equal byte for byte to token_embd.weight, means a shared classifier.
// GGUF dims list the fastest-varying first, so dims [cols, rows] is our {rows, cols}.
// llama.cpp's converter already permutes q/k rows into Meta's interleaved-pair RoPE order,
// so nothing is permuted here.
import { DEFAULT_NORM_EPS, DEFAULT_ROPE_THETA, headDim, validateConfig, type LlamaConfig } from '../../reference/config.js';
import type { WeightTensor } from '../../reference/tensor.js';
import {
  assembleWeights, atSlot, parameterSlots, type GlobalField, type LayerField, type LlamaModel, type ParameterSlot,
} from '../../reference/weights.js';
import { dtypeOfGGML, ggmlOfDType, ggmlTypeName, readableGGMLTypes } from './ggml-types.js';
import {
  ggufTensorBytes, writeGGUF,
  type GGUFFile, type GGUFHeader, type GGUFMetadataEntry, type GGUFTensorInfo, type GGUFWriteTensor,
} from './gguf.js';
import { modelFromBytes, type GainSpec, type MatrixSpec, type ModelLayout } from './tensor-layout.js';

// llama.cpp's name for each field of a layer (blk.N.<name>), and for the others.
export const GGUF_LAYER_NAMES: Readonly<Record<LayerField, string>> = {
  attentionNorm: 'attn_norm.weight', // [C]
  wq: 'attn_q.weight', // [C, C]
  wk: 'attn_k.weight', // [kvDim, C]
  wv: 'attn_v.weight', // [kvDim, C]
  wo: 'attn_output.weight', // [C, C]
  ffnNorm: 'ffn_norm.weight', // [C]
  w1: 'ffn_gate.weight', // [H, C]
  w2: 'ffn_down.weight', // [C, H]
  w3: 'ffn_up.weight', // [H, C]
};
export const GGUF_GLOBAL_NAMES: Readonly<Record<GlobalField, string>> = {
  tokenEmbedding: 'token_embd.weight', // [V, C]
  norm: 'output_norm.weight', // [C]
  output: 'output.weight', // [V, C]
};

export function ggufName(slot: ParameterSlot): string {
  return slot.layer === null ? GGUF_GLOBAL_NAMES[slot.field] : `blk.${slot.layer}.${GGUF_LAYER_NAMES[slot.field]}`;
}

// Are two tensors (same type and dims) equal byte for byte?
export type SameBytes = (a: GGUFTensorInfo, b: GGUFTensorInfo) => boolean;
// The bytes of a small tensor that belongs to the config (rope_freqs.weight).
export type SmallTensorBytes = (t: GGUFTensorInfo) => Uint8Array;

// llama.cpp's tensor of per-pair RoPE frequency divisors (Llama 3.1 scaling), F32 [hd/2].
export const GGUF_ROPE_FREQS = 'rope_freqs.weight';

export function ggufToModel(file: GGUFFile, fileName: string): LlamaModel {
  const same: SameBytes = (a, b) => {
    const x = ggufTensorBytes(file, a), y = ggufTensorBytes(file, b);
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
    return true;
  };
  return modelFromBytes(ggufLayout(file, fileName, same, (t) => ggufTensorBytes(file, t)), file.bytes);
}

// The config and where every weight lies, each checked for shape and storage type.
export function ggufLayout(file: GGUFHeader, fileName: string, sameBytes: SameBytes, smallTensor: SmallTensorBytes): ModelLayout {
  const arch = file.metadata['general.architecture'];
  if (arch === undefined) throw new Error(`${fileName}: GGUF metadata has no general.architecture`);
  if (arch !== 'llama') throw new Error(`${fileName}: general.architecture is "${String(arch)}", only "llama" is supported`);
  const tensors = new Map(file.tensors.map((t) => [t.name, t]));
  const config = ggufConfig(file, tensors, fileName, sameBytes);
  const ropeFreqFactors = ggufRopeFreqFactors(file, tensors.get(GGUF_ROPE_FREQS), headDim(config), fileName, smallTensor);
  if (ropeFreqFactors) config.ropeFreqFactors = ropeFreqFactors;
  return { config, weights: ggufWeights(tensors, config, fileName) };
}

// --- config ---------------------------------------------------------------------------

function ggufConfig(file: GGUFHeader, tensors: Map<string, GGUFTensorInfo>, fileName: string, sameBytes: SameBytes): LlamaConfig {
  const int = (key: string, fallback?: number) => metaInt(file, key, fileName, fallback);
  const nHeads = int('llama.attention.head_count');
  const embd = tensors.get(GGUF_GLOBAL_NAMES.tokenEmbedding);
  const config: LlamaConfig = {
    dim: int('llama.embedding_length'),
    nLayers: int('llama.block_count'),
    nHeads,
    nKvHeads: int('llama.attention.head_count_kv', nHeads),
    hiddenDim: int('llama.feed_forward_length'),
    vocabSize: embd && embd.dims.length === 2 ? embd.dims[1] : int('llama.vocab_size'),
    maxSeqLen: int('llama.context_length'),
    normEps: metaFloat(file, 'llama.attention.layer_norm_rms_epsilon', fileName, DEFAULT_NORM_EPS),
    ropeTheta: metaFloat(file, 'llama.rope.freq_base', fileName, DEFAULT_ROPE_THETA),
    sharedClassifier: classifierIsShared(tensors, sameBytes),
  };
  validateConfig(config, fileName);
  const ropeDims = int('llama.rope.dimension_count', headDim(config));
  if (ropeDims !== headDim(config)) {
    throw new Error(`${fileName}: llama.rope.dimension_count ${ropeDims} differs from the head dimension ${headDim(config)} (partial RoPE is not supported)`);
  }
  return config;
}

// RoPE scaling, as llama.cpp applies it: pair i's frequency is divided by rope_freqs.weight[i]
// (written from Llama 3.1's rope_scaling by llama.cpp's converter) and, with linear scaling,
// by llama.rope.scaling.factor (positions divided by it). undefined: no scaling.
function ggufRopeFreqFactors(
  file: GGUFHeader, freqs: GGUFTensorInfo | undefined, hd: number, fileName: string, smallTensor: SmallTensorBytes,
): number[] | undefined {
  const type = file.metadata['llama.rope.scaling.type'] ?? 'linear';
  if (type !== 'linear' && type !== 'none') {
    throw new Error(`${fileName}: llama.rope.scaling.type ${JSON.stringify(type)} is not supported (only linear scaling and rope_freqs.weight)`);
  }
  const linearKey = file.metadata['llama.rope.scaling.factor'] !== undefined ? 'llama.rope.scaling.factor' : 'llama.rope.scale_linear';
  const linear = metaFloat(file, linearKey, fileName, 0) || 1; // 0 means none, as in llama.cpp
  if (!(linear > 0) || !Number.isFinite(linear)) throw new Error(`${fileName}: ${linearKey} is ${linear}, must be a positive number`);
  let factors: number[] | undefined;
  if (freqs) {
    if (freqs.type !== 0 || freqs.dims.length !== 1 || freqs.dims[0] !== hd / 2) {
      throw new Error(`${fileName}: ${describe(freqs)} should be F32 with dims [${hd / 2}] (one divisor per RoPE pair)`);
    }
    const bytes = smallTensor(freqs);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    factors = Array.from({ length: hd / 2 }, (_, i) => view.getFloat32(4 * i, true));
    const bad = factors.findIndex((f) => !(f > 0) || !Number.isFinite(f));
    if (bad >= 0) throw new Error(`${fileName}: ${GGUF_ROPE_FREQS}[${bad}] is ${factors[bad]}, must be a positive number`);
  }
  if (linear === 1) return factors;
  return Array.from({ length: hd / 2 }, (_, i) => (factors?.[i] ?? 1) * linear);
}

// Shared when output.weight is absent, or is a byte-for-byte copy of token_embd.weight (as
// in stories260K.gguf): then one tensor serves both, as in the llama2.c original.
function classifierIsShared(tensors: Map<string, GGUFTensorInfo>, sameBytes: SameBytes): boolean {
  const out = tensors.get(GGUF_GLOBAL_NAMES.output);
  const embd = tensors.get(GGUF_GLOBAL_NAMES.tokenEmbedding);
  if (!out) return true;
  if (!embd || out.type !== embd.type || out.dims.join() !== embd.dims.join()) return false;
  return sameBytes(out, embd);
}

// An integer metadata value of any integer GGUF type.
function metaInt(file: GGUFHeader, key: string, fileName: string, fallback?: number): number {
  const v = file.metadata[key];
  if (v === undefined) {
    if (fallback !== undefined) return fallback;
    throw new Error(`${fileName}: GGUF metadata has no ${key}`);
  }
  const n = typeof v === 'bigint' && v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= 0n ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) {
    throw new Error(`${fileName}: ${key} must be an integer, found ${file.types[key]} ${String(v)}`);
  }
  return n;
}

function metaFloat(file: GGUFHeader, key: string, fileName: string, fallback: number): number {
  const v = file.metadata[key];
  if (v === undefined) return fallback;
  if (typeof v !== 'number') throw new Error(`${fileName}: ${key} must be a number, found ${file.types[key]}`);
  return file.types[key] === 'f32' ? shortestF32(v) : v;
}

// The shortest decimal that rounds to the same float32: the value the file's writer meant
// (1e-5 stored as f32 reads back as 9.99999974e-6; this returns 1e-5).
function shortestF32(v: number): number {
  for (let digits = 1; digits < 10; digits++) {
    const d = Number(v.toPrecision(digits));
    if (Math.fround(d) === v) return d;
  }
  return v;
}

// --- weights --------------------------------------------------------------------------

function ggufWeights(tensors: Map<string, GGUFTensorInfo>, c: LlamaConfig, fileName: string): ModelLayout['weights'] {
  const tensor = (slot: ParameterSlot) => find(tensors, ggufName(slot), fileName);
  const matrix = (slot: ParameterSlot, rows: number, cols: number) => matrixSpec(tensor(slot), rows, cols, fileName);
  const norm = (slot: ParameterSlot, length: number) => gainSpec(tensor(slot), length, fileName);
  return assembleWeights(c, matrix, norm);
}

function find(tensors: Map<string, GGUFTensorInfo>, name: string, fileName: string): GGUFTensorInfo {
  const t = tensors.get(name);
  if (!t) throw new Error(`${fileName}: GGUF has no tensor ${name}`);
  return t;
}

function describe(t: GGUFTensorInfo): string {
  return `tensor ${t.name} (${ggmlTypeName(t.type)} [${t.dims.join(', ')}])`;
}

// A matrix stored as GGUF dims [cols, rows].
function matrixSpec(t: GGUFTensorInfo, rows: number, cols: number, fileName: string): MatrixSpec {
  if (t.dims.length !== 2 || t.dims[0] !== cols || t.dims[1] !== rows) {
    throw new Error(`${fileName}: ${describe(t)} should have dims [${cols}, ${rows}] (${rows} rows of ${cols})`);
  }
  const dtype = dtypeOfGGML(t.type);
  if (dtype === undefined) {
    throw new Error(`${fileName}: tensor ${t.name} has type ${t.type} (${ggmlTypeName(t.type)}), which llama-ts cannot read; it reads ${readableGGMLTypes()}`);
  }
  return { name: t.name, dtype, rows, cols, offset: t.offset, byteLength: t.byteLength };
}

// A norm gain [C]: F32, or F16 (converted to float32 on load, a small copy).
function gainSpec(t: GGUFTensorInfo, dim: number, fileName: string): GainSpec {
  if (t.dims.length !== 1 || t.dims[0] !== dim) throw new Error(`${fileName}: ${describe(t)} should have dims [${dim}]`);
  if (t.type === 0 || t.type === 1) return { name: t.name, type: t.type === 0 ? 'f32' : 'f16', length: dim, offset: t.offset };
  throw new Error(`${fileName}: unsupported tensor type ${t.type} (${ggmlTypeName(t.type)}) for norm tensor ${t.name}`);
}

// --- writing --------------------------------------------------------------------------

// A model as GGUF (`llama` architecture, tensors in their current storage types), the inverse
// of ggufToModel. `extraMetadata` (e.g. tokenizer.ggml.* keys) is appended as given.
export function ggufFromModel(model: LlamaModel, extraMetadata: GGUFMetadataEntry[] = []): Uint8Array {
  const c = model.config;
  validateConfig(c, 'ggufFromModel');
  const metadata: GGUFMetadataEntry[] = [
    ['general.architecture', 'llama', 'string'],
    ['llama.context_length', c.maxSeqLen, 'u32'],
    ['llama.embedding_length', c.dim, 'u32'],
    ['llama.block_count', c.nLayers, 'u32'],
    ['llama.feed_forward_length', c.hiddenDim, 'u32'],
    ['llama.rope.dimension_count', headDim(c), 'u32'],
    ['llama.attention.head_count', c.nHeads, 'u32'],
    ['llama.attention.head_count_kv', c.nKvHeads, 'u32'],
    ['llama.attention.layer_norm_rms_epsilon', c.normEps, 'f32'],
    ['llama.rope.freq_base', c.ropeTheta, 'f32'],
    ...ropeScalingMetadata(c),
    ...extraMetadata,
  ];
  // In Meta's order, as llama.cpp writes them; the classifier only when not shared.
  const tensors = parameterSlots(c).map((slot): GGUFWriteTensor => {
    const t = atSlot<WeightTensor | Float32Array>(model.weights, slot);
    return t instanceof Float32Array ? normEntry(ggufName(slot), t) : matrixEntry(ggufName(slot), t);
  });
  const freqs = ropeFreqsTensor(c);
  return writeGGUF({ metadata, tensors: freqs ? [freqs, ...tensors] : tensors });
}

// RoPE scaling as llama.cpp reads it: the same divisor for every pair is linear scaling
// (two keys); any other list is the rope_freqs.weight tensor (first, as llama.cpp's converter
// writes it).
function uniformFactor(c: LlamaConfig): number | undefined {
  const f = c.ropeFreqFactors;
  return f && f.every((x) => x === f[0]) ? f[0] : undefined;
}

function ropeScalingMetadata(c: LlamaConfig): GGUFMetadataEntry[] {
  const linear = uniformFactor(c);
  if (linear === undefined || linear === 1) return [];
  return [['llama.rope.scaling.type', 'linear', 'string'], ['llama.rope.scaling.factor', linear, 'f32']];
}

function ropeFreqsTensor(c: LlamaConfig): GGUFWriteTensor | undefined {
  if (!c.ropeFreqFactors || uniformFactor(c) !== undefined) return undefined;
  return normEntry(GGUF_ROPE_FREQS, Float32Array.from(c.ropeFreqFactors));
}

function rawBytes(a: Float32Array | Uint16Array | Uint8Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function matrixEntry(name: string, t: WeightTensor): GGUFWriteTensor {
  return { name, dims: [t.cols, t.rows], type: ggmlOfDType(t.dtype), data: rawBytes(t.data) };
}

function normEntry(name: string, gain: Float32Array): GGUFWriteTensor {
  return { name, dims: [gain.length], type: 0, data: rawBytes(gain) };
}
