// A LLaMA from a parsed GGUF file (llama.cpp's `llama` architecture): the config from the
// `llama.*` metadata, the weights as views into the file. ggufLayout needs the header alone
// (and a way to compare two tensors' bytes), for loaders that place the weights elsewhere.
//
// Tensor names (llama.cpp) and ours (Meta's model.py):
//   token_embd.weight            tokenEmbedding        [V, C]
//   blk.N.attn_norm.weight       attentionNorm         [C]
//   blk.N.attn_q/k/v.weight      wq, wk, wv            [C or kvDim, C]
//   blk.N.attn_output.weight     wo                    [C, C]
//   blk.N.ffn_norm.weight        ffnNorm               [C]
//   blk.N.ffn_gate/down/up       w1, w2, w3            [H, C], [C, H], [H, C]
//   output_norm.weight           norm                  [C]
//   output.weight                output                [V, C]; absent: shared with token_embd
// output.weight equal byte for byte to token_embd.weight is also treated as shared.
// GGUF dims list the fastest-varying first, so dims [cols, rows] is our {rows, cols}.
// llama.cpp's converter already permutes q/k rows into Meta's interleaved-pair RoPE order,
// so nothing is permuted here.
import { DEFAULT_NORM_EPS, DEFAULT_ROPE_THETA, headDim, kvDim, validateConfig, type LlamaConfig } from '../../reference/config.js';
import type { WeightTensor } from '../../reference/tensor.js';
import type { LlamaModel } from '../../reference/weights.js';
import { dtypeOfGGML, ggmlOfDType, ggmlTypeName, readableGGMLTypes } from './ggml-types.js';
import {
  ggufTensorBytes, writeGGUF,
  type GGUFFile, type GGUFHeader, type GGUFMetadataEntry, type GGUFTensorInfo, type GGUFWriteTensor,
} from './gguf.js';
import { modelFromBytes, type GainSpec, type LayerLayout, type MatrixSpec, type ModelLayout } from './layout.js';

// Are two tensors (same type and dims) equal byte for byte?
export type SameBytes = (a: GGUFTensorInfo, b: GGUFTensorInfo) => boolean;

export function ggufToModel(file: GGUFFile, fileName: string): LlamaModel {
  const same: SameBytes = (a, b) => {
    const x = ggufTensorBytes(file, a), y = ggufTensorBytes(file, b);
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
    return true;
  };
  return modelFromBytes(ggufLayout(file, fileName, same), file.bytes);
}

// The config and where every weight lies, each checked for shape and storage type.
export function ggufLayout(file: GGUFHeader, fileName: string, sameBytes: SameBytes): ModelLayout {
  const arch = file.metadata['general.architecture'];
  if (arch === undefined) throw new Error(`${fileName}: GGUF metadata has no general.architecture`);
  if (arch !== 'llama') throw new Error(`${fileName}: general.architecture is "${String(arch)}", only "llama" is supported`);
  const tensors = new Map(file.tensors.map((t) => [t.name, t]));
  const config = ggufConfig(file, tensors, fileName, sameBytes);
  return { config, weights: ggufWeights(tensors, config, fileName) };
}

// --- config ---------------------------------------------------------------------------

function ggufConfig(file: GGUFHeader, tensors: Map<string, GGUFTensorInfo>, fileName: string, sameBytes: SameBytes): LlamaConfig {
  const int = (key: string, fallback?: number) => metaInt(file, key, fileName, fallback);
  const nHeads = int('llama.attention.head_count');
  const embd = tensors.get('token_embd.weight');
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

// Shared when output.weight is absent, or is a byte-for-byte copy of token_embd.weight (as
// in stories260K.gguf): then one tensor serves both, as in the llama2.c original.
function classifierIsShared(tensors: Map<string, GGUFTensorInfo>, sameBytes: SameBytes): boolean {
  const out = tensors.get('output.weight');
  const embd = tensors.get('token_embd.weight');
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
  const matrix = (name: string, rows: number, cols: number) => matrixSpec(find(tensors, name, fileName), rows, cols, fileName);
  const norm = (name: string) => gainSpec(find(tensors, name, fileName), c.dim, fileName);
  const C = c.dim, H = c.hiddenDim, V = c.vocabSize, KV = kvDim(c);
  const tokenEmbedding = matrix('token_embd.weight', V, C);
  const layers: LayerLayout[] = [];
  for (let l = 0; l < c.nLayers; l++) {
    const p = `blk.${l}.`;
    layers.push({
      attentionNorm: norm(p + 'attn_norm.weight'),
      wq: matrix(p + 'attn_q.weight', C, C),
      wk: matrix(p + 'attn_k.weight', KV, C),
      wv: matrix(p + 'attn_v.weight', KV, C),
      wo: matrix(p + 'attn_output.weight', C, C),
      ffnNorm: norm(p + 'ffn_norm.weight'),
      w1: matrix(p + 'ffn_gate.weight', H, C),
      w2: matrix(p + 'ffn_down.weight', C, H),
      w3: matrix(p + 'ffn_up.weight', H, C),
    });
  }
  const output = c.sharedClassifier ? tokenEmbedding : matrix('output.weight', V, C);
  return { tokenEmbedding, layers, norm: norm('output_norm.weight'), output };
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
    ...extraMetadata,
  ];
  const w = model.weights;
  const tensors: GGUFWriteTensor[] = [matrixEntry('token_embd.weight', w.tokenEmbedding)];
  w.layers.forEach((layer, l) => {
    const p = `blk.${l}.`;
    tensors.push(
      normEntry(p + 'attn_norm.weight', layer.attentionNorm),
      matrixEntry(p + 'attn_q.weight', layer.wq),
      matrixEntry(p + 'attn_k.weight', layer.wk),
      matrixEntry(p + 'attn_v.weight', layer.wv),
      matrixEntry(p + 'attn_output.weight', layer.wo),
      normEntry(p + 'ffn_norm.weight', layer.ffnNorm),
      matrixEntry(p + 'ffn_gate.weight', layer.w1),
      matrixEntry(p + 'ffn_down.weight', layer.w2),
      matrixEntry(p + 'ffn_up.weight', layer.w3),
    );
  });
  tensors.push(normEntry('output_norm.weight', w.norm));
  if (!c.sharedClassifier) tensors.push(matrixEntry('output.weight', w.output));
  return writeGGUF({ metadata, tensors });
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
