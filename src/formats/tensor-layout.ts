// Where each weight of a model lies in its file, and in which storage type: what a loader
// learns from a file's header alone, before any tensor byte is read. Every spec here has
// been checked to lie inside the file and to have the shape the config implies.
//
// Two ways to turn a layout into a LlamaModel:
//   modelFromBytes   the whole file is in memory: typed-array views into it (tensor-views.ts)
//   mapLayout        any other placement, e.g. reading each tensor straight into WASM memory
//                    (src/backends/wasm/direct-load.ts)
import type { LlamaConfig } from '../../reference/config.js';
import { f16ToF32, type DType, type WeightTensor } from '../../reference/tensor.js';
import { LAYER_MATRICES, type LayerOf, type LayerWeights, type LlamaModel, type WeightsOf } from '../../reference/weights.js';
import { f32View, u16View, u8View } from './tensor-views.js';

// A matrix [rows, cols] stored as `dtype` in file bytes [offset, offset + byteLength).
export interface MatrixSpec {
  name: string; // as the file names it (for messages)
  dtype: DType;
  rows: number;
  cols: number;
  offset: number; // absolute byte offset in the file
  byteLength: number;
}

// A norm gain [length], stored as float32 or IEEE half (then converted on load).
export interface GainSpec {
  name: string;
  type: 'f32' | 'f16';
  length: number;
  offset: number;
}

export type LayerLayout = LayerOf<MatrixSpec, GainSpec>;

export interface ModelLayout {
  config: LlamaConfig;
  weights: WeightsOf<MatrixSpec, GainSpec>; // shaped like LlamaWeights
}

// Every distinct matrix of a layout, in file-independent model order (shared classifier once).
export function layoutMatrices(layout: ModelLayout): MatrixSpec[] {
  const w = layout.weights;
  const all = [w.tokenEmbedding];
  for (const layer of w.layers) for (const f of LAYER_MATRICES) all.push(layer[f]);
  all.push(w.output);
  return [...new Set(all)];
}

// The model whose tensors `matrix` and `gain` make from their specs; a shared classifier
// stays one object (output === tokenEmbedding).
export function mapLayout(
  layout: ModelLayout,
  matrix: (m: MatrixSpec) => WeightTensor,
  gain: (g: GainSpec) => Float32Array,
): LlamaModel {
  const w = layout.weights;
  const tokenEmbedding = matrix(w.tokenEmbedding);
  const layers: LayerWeights[] = w.layers.map((l) => ({
    attentionNorm: gain(l.attentionNorm),
    wq: matrix(l.wq), wk: matrix(l.wk), wv: matrix(l.wv), wo: matrix(l.wo),
    ffnNorm: gain(l.ffnNorm),
    w1: matrix(l.w1), w2: matrix(l.w2), w3: matrix(l.w3),
  }));
  const output = w.output === w.tokenEmbedding ? tokenEmbedding : matrix(w.output);
  return { config: layout.config, weights: { tokenEmbedding, layers, norm: gain(w.norm), output } };
}

// The model as views into the whole file held in memory (zero copy where aligned).
export function modelFromBytes(layout: ModelLayout, bytes: Uint8Array): LlamaModel {
  return mapLayout(layout, (m) => matrixView(bytes, m), (g) => gainFromBytes(bytes, g));
}

export function matrixView(bytes: Uint8Array, m: MatrixSpec): WeightTensor {
  const n = m.rows * m.cols;
  const data =
    m.dtype === 'f32' ? f32View(bytes, m.offset, n)
    : m.dtype === 'f16' ? u16View(bytes, m.offset, n)
    : u8View(bytes, m.offset, m.byteLength);
  return { dtype: m.dtype, rows: m.rows, cols: m.cols, data };
}

// `bytes` starting at file offset `base` (the gain's bytes, or the whole file with base 0).
export function gainFromBytes(bytes: Uint8Array, g: GainSpec, base = 0): Float32Array {
  if (g.type === 'f32') return f32View(bytes, g.offset - base, g.length);
  return Float32Array.from(u16View(bytes, g.offset - base, g.length), f16ToF32);
}

// Bytes a gain occupies in its file.
export function gainBytes(g: GainSpec): number {
  return (g.type === 'f32' ? 4 : 2) * g.length;
}
