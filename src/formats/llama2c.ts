// llama2.c checkpoints (karpathy/llama2.c, export.py): float32 weights behind a small header.
//
// Version 0 (legacy_export, what run.c reads): no magic.
//   header  int32 dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len  (28 bytes)
//           vocab_size < 0 means the classifier is NOT shared with the token embedding
//   weights token_embedding, then per-kind stacks over layers: rms_att, wq, wk, wv, wo,
//           rms_ffn, w1, w2, w3; rms_final; freq_cis_real, freq_cis_imag [seq_len, hd/2]
//           (RoPE tables, skipped on read); wcls if not shared
// Version 1 (version1_export):
//   header  uint32 magic 0x616b3432 ("ak42"), int32 version = 1, the same 7 int32,
//           uint8 shared_classifier, zero padding to 256 bytes
//   weights rms_att stack, rms_ffn stack, rms_final, token_embedding, wq, wk, wv, wo, w1,
//           w2, w3 stacks, wcls if not shared
// Version 2 (Q8_0 with a group size) is refused.
//
// Matrices are row-major [out, in] (nn.Linear), exactly our WeightTensor layout, and the
// file's q/k rows are in Meta's order, so the data are used as they are: zero-copy views.
import { modelRopeFrequencies } from '../../reference/rope.js';
import { DEFAULT_NORM_EPS, DEFAULT_ROPE_THETA, headDim, kvDim, validateConfig, type LlamaConfig } from '../../reference/config.js';
import { toF32, type WeightTensor } from '../../reference/tensor.js';
import {
  assembleWeights, atSlot, globalSlot, layerSlot, parameterShape,
  type LayerField, type LlamaModel, type ParameterSlot,
} from '../../reference/weights.js';
import { BinaryReader } from './binary-reader.js';
import { BinaryWriter } from './binary-writer.js';
import { modelFromBytes, type MatrixSpec, type ModelLayout } from './tensor-layout.js';

export const LLAMA2C_MAGIC = 0x616b3432; // "ak42" as export.py packs it ('I', little-endian)
const V0_HEADER_BYTES = 7 * 4;
const V1_HEADER_BYTES = 256;

export interface Llama2cHeader {
  version: 0 | 1;
  config: LlamaConfig; // normEps and ropeTheta are llama2.c's fixed 1e-5 and 10000
  headerBytes: number;
}

// One run of float32 values in file order: a parameter (named as Meta does), or one of the
// RoPE tables, which are not weights (`param` absent) and are skipped on read.
interface Slot {
  name: string; // the parameter's Meta name, or 'freqCisReal' / 'freqCisImag'
  rows: number;
  cols: number;
  param?: ParameterSlot;
}

// Reads and checks the header; the file size is checked separately (llama2cExpectedBytes).
export function readLlama2cHeader(bytes: Uint8Array, fileName: string): Llama2cHeader {
  const r = new BinaryReader(bytes, fileName);
  let version: 0 | 1 = 0;
  let headerBytes = V0_HEADER_BYTES;
  if (bytes.length >= 4 && r.u32('llama2.c magic') === LLAMA2C_MAGIC) {
    const v = r.i32('llama2.c version');
    if (v === 2) r.fail('llama2.c version 2 (Q8_0) checkpoints are not supported; export version 0 or 1', 4);
    if (v !== 1) r.fail(`unknown llama2.c version ${v} (expected 1)`, 4);
    version = 1;
    headerBytes = V1_HEADER_BYTES;
  } else {
    r.seek(0);
  }
  const p = { dim: 0, hiddenDim: 0, nLayers: 0, nHeads: 0, nKvHeads: 0, vocabSize: 0, seqLen: 0 };
  for (const k of Object.keys(p) as (keyof typeof p)[]) p[k] = r.i32(`llama2.c header ${k}`);
  let shared = p.vocabSize > 0;
  if (version === 1) {
    const at = r.offset;
    const flag = r.u8('llama2.c header shared_classifier');
    if (flag > 1) r.fail(`llama2.c header shared_classifier must be 0 or 1, got ${flag}`, at);
    if (p.vocabSize <= 0) r.fail(`llama2.c header vocab_size must be positive in version 1, got ${p.vocabSize}`, at - 8);
    shared = flag === 1;
    r.need(V1_HEADER_BYTES - r.offset, 'llama2.c header padding');
  }
  const config: LlamaConfig = {
    dim: p.dim, nLayers: p.nLayers, nHeads: p.nHeads, nKvHeads: p.nKvHeads, hiddenDim: p.hiddenDim,
    vocabSize: Math.abs(p.vocabSize), maxSeqLen: p.seqLen,
    normEps: DEFAULT_NORM_EPS, ropeTheta: DEFAULT_ROPE_THETA, sharedClassifier: shared,
  };
  validateConfig(config, `${fileName}: llama2.c v${version} header`);
  return { version, config, headerBytes };
}

// The exact file size a header implies, computed without building the layout (a corrupt
// header can claim 2^31 layers) and in bigint (it can describe exabytes).
export function llama2cExpectedBytes(h: Llama2cHeader): bigint {
  const c = h.config;
  const [C, H, V, KV, L] = [c.dim, c.hiddenDim, c.vocabSize, kvDim(c), c.nLayers].map(BigInt);
  const perLayer = 2n * C + 2n * C * C + 2n * KV * C + 3n * H * C; // norms, wq wo, wk wv, w1 w2 w3
  let floats = V * C + L * perLayer + C;
  if (h.version === 0) floats += 2n * BigInt(c.maxSeqLen) * BigInt(headDim(c) / 2); // RoPE tables
  if (!c.sharedClassifier) floats += V * C;
  return BigInt(h.headerBytes) + 4n * floats;
}

export function parseLlama2c(bytes: Uint8Array, fileName: string): LlamaModel {
  const header = readLlama2cHeader(bytes, fileName);
  checkLlama2cSize(header, bytes.length, fileName);
  return modelFromBytes(llama2cLayout(header), bytes);
}

// The file must be exactly as long as its header implies.
export function checkLlama2cSize(header: Llama2cHeader, fileSize: number, fileName: string): void {
  const expected = llama2cExpectedBytes(header);
  if (expected === BigInt(fileSize)) return;
  const c = header.config;
  throw new Error(
    `${fileName}: llama2.c v${header.version} file size: the header (dim ${c.dim}, hidden ${c.hiddenDim}, ` +
      `layers ${c.nLayers}, heads ${c.nHeads}/${c.nKvHeads}, vocab ${c.vocabSize}, seq_len ${c.maxSeqLen}, ` +
      `${c.sharedClassifier ? 'shared' : 'separate'} classifier) implies ${expected} bytes, file has ${fileSize}`,
  );
}

// Where each weight lies: the float32 runs of layout() one after another behind the header.
// Call after checkLlama2cSize (which bounds every offset by the real file size).
export function llama2cLayout(header: Llama2cHeader): ModelLayout {
  const specs = new Map<string, MatrixSpec>();
  let offset = header.headerBytes;
  for (const s of layout(header.version, header.config)) {
    const byteLength = 4 * s.rows * s.cols;
    if (s.param) specs.set(s.name, { name: s.name, dtype: 'f32', rows: s.rows, cols: s.cols, offset, byteLength });
    offset += byteLength;
  }
  return { config: header.config, weights: assemble(header.config, specs) };
}

// The float32 runs of a checkpoint, in file order.
function layout(version: 0 | 1, c: LlamaConfig): Slot[] {
  const run = (param: ParameterSlot): Slot => {
    const shape = parameterShape(c, param.field); // a norm gain [C] is one row
    return { name: param.name, rows: shape.length === 1 ? 1 : shape[0], cols: shape[shape.length - 1], param };
  };
  const stack = (field: LayerField): Slot[] => Array.from({ length: c.nLayers }, (_, l) => run(layerSlot(l, field)));
  const embedding = run(globalSlot('tokenEmbedding'));
  const attention = [...stack('wq'), ...stack('wk'), ...stack('wv'), ...stack('wo')];
  const ffn = [...stack('w1'), ...stack('w2'), ...stack('w3')];
  const norm = run(globalSlot('norm'));
  const output: Slot[] = c.sharedClassifier ? [] : [run(globalSlot('output'))];
  if (version === 1) {
    return [...stack('attentionNorm'), ...stack('ffnNorm'), norm, embedding, ...attention, ...ffn, ...output];
  }
  const half = headDim(c) / 2;
  return [
    embedding,
    ...stack('attentionNorm'), ...attention,
    ...stack('ffnNorm'), ...ffn,
    norm,
    { name: 'freqCisReal', rows: c.maxSeqLen, cols: half },
    { name: 'freqCisImag', rows: c.maxSeqLen, cols: half },
    ...output,
  ];
}

function assemble(c: LlamaConfig, specs: Map<string, MatrixSpec>): ModelLayout['weights'] {
  const matrix = (p: ParameterSlot): MatrixSpec => specs.get(p.name)!;
  return assembleWeights(c, matrix, (p, length) => ({ name: p.name, type: 'f32' as const, length, offset: matrix(p).offset }));
}

export interface WriteLlama2cOptions {
  // llama2.c files cannot record normEps, ropeTheta or RoPE scaling (run.c assumes 1e-5,
  // 10000 and none); writing a model with other values is refused unless this is set.
  allowConfigLoss?: boolean;
}

// Writes a model as a float32 llama2.c checkpoint; f16/quantized weights are dequantized.
export function writeLlama2c(model: LlamaModel, version: 0 | 1, options: WriteLlama2cOptions = {}): Uint8Array {
  const c = model.config;
  validateConfig(c, 'writeLlama2c');
  if (!options.allowConfigLoss && (c.normEps !== DEFAULT_NORM_EPS || c.ropeTheta !== DEFAULT_ROPE_THETA)) {
    throw new Error(
      `writeLlama2c: llama2.c files assume normEps 1e-5 and ropeTheta 10000, this model has ${c.normEps} and ${c.ropeTheta}` +
        ' (pass allowConfigLoss to write it anyway)',
    );
  }
  if (!options.allowConfigLoss && c.ropeFreqFactors?.some((f) => f !== 1)) {
    throw new Error('writeLlama2c: llama2.c files have no RoPE scaling, this model scales its RoPE frequencies (pass allowConfigLoss to write it anyway)');
  }
  const header: Llama2cHeader = { version, config: c, headerBytes: version === 1 ? V1_HEADER_BYTES : V0_HEADER_BYTES };
  const w = new BinaryWriter(Number(llama2cExpectedBytes(header)));
  writeHeader(w, header);
  for (const s of layout(version, c)) w.f32Array(slotValues(model, s));
  return w.finish();
}

function writeHeader(w: BinaryWriter, h: Llama2cHeader): void {
  const c = h.config;
  if (h.version === 1) {
    w.u32(LLAMA2C_MAGIC);
    w.i32(1);
  }
  const vocab = h.version === 0 && !c.sharedClassifier ? -c.vocabSize : c.vocabSize;
  for (const v of [c.dim, c.hiddenDim, c.nLayers, c.nHeads, c.nKvHeads, vocab, c.maxSeqLen]) w.i32(v);
  if (h.version === 1) {
    w.u8(c.sharedClassifier ? 1 : 0);
    w.padTo(V1_HEADER_BYTES);
  }
}

// The float32 values of one slot, checked against the shape the config implies.
function slotValues(model: LlamaModel, s: Slot): Float32Array {
  if (!s.param) return ropeTable(model.config, s.name === 'freqCisReal');
  const { layer } = s.param;
  const value = layer === null || model.weights.layers[layer] ? atSlot<WeightTensor | Float32Array | undefined>(model.weights, s.param) : undefined;
  if (value === undefined) throw new Error(`writeLlama2c: model has no ${s.name}`);
  if (value instanceof Float32Array) {
    if (value.length !== s.cols) throw new Error(`writeLlama2c: ${s.name} has ${value.length} values, expected ${s.cols}`);
    return value;
  }
  if (value.rows !== s.rows || value.cols !== s.cols) {
    throw new Error(`writeLlama2c: ${s.name} is [${value.rows}, ${value.cols}], expected [${s.rows}, ${s.cols}]`);
  }
  return toF32(value);
}

// RoPE tables as model.py's precompute_freqs_cis makes them: [seq_len, hd/2] of
// cos (real) or sin (imag) of pos · θ_i (theta^(-2i/hd), scaled as the config says).
function ropeTable(c: LlamaConfig, real: boolean): Float32Array {
  const half = headDim(c) / 2;
  const freqs = modelRopeFrequencies(c); // [hd/2]
  const out = new Float32Array(c.maxSeqLen * half);
  for (let pos = 0; pos < c.maxSeqLen; pos++) {
    for (let i = 0; i < half; i++) {
      const angle = pos * freqs[i];
      out[pos * half + i] = real ? Math.cos(angle) : Math.sin(angle);
    }
  }
  return out;
}
