// Weight types the WASM kernels cannot multiply (today only Q8_K, ggml's intermediate type,
// which no model file stores as a matrix) are widened at load: decoded by the readable block maths
// (reference/tensor.ts readRow) and stored in WASM memory as F16, which the kernels do
// multiply. F16 rounds each decoded value by at most 2^-11 of itself, far below the
// quantization step. The load notes say so. (Until issue 12 part 2 the K-quants, Q4_1,
// Q5_0, Q5_1 and IQ4_NL were widened too; assembly/kblocks.ts and kdot.ts now run them.)
import { readRow, type DType, type WeightTensor } from '../../../reference/tensor.js';
import { f32ToF16 } from '../../../reference/half.js';
import type { MatrixSpec, ModelLayout } from '../../formats/tensor-layout.js';
import { LAYER_MATRICES, type LayerMatrix } from '../../../reference/weights.js';

// The storage types with WASM matmul kernels (assembly/), multiplied in place.
export const WASM_MATMUL_DTYPES: readonly DType[] = [
  'f32', 'f16', 'q8_0', 'q4_0', 'q4_1', 'q5_0', 'q5_1', 'iq4_nl', 'q2_k', 'q3_k', 'q4_k', 'q5_k', 'q6_k',
];

export function hasWasmMatmul(dtype: DType): boolean {
  return WASM_MATMUL_DTYPES.includes(dtype);
}

// A layout whose matrices without WASM kernels are F16 [rows, cols] in memory, and for
// each such matrix the spec it is read from in the file. A shared classifier stays one spec.
export interface WidenedLayout {
  layout: ModelLayout;
  source: Map<MatrixSpec, MatrixSpec>; // widened spec -> the file's spec
  notes: string[];
}

export function widenLayout(layout: ModelLayout): WidenedLayout {
  const source = new Map<MatrixSpec, MatrixSpec>();
  const done = new Map<MatrixSpec, MatrixSpec>();
  const byType = new Map<DType, string[]>();
  const widen = (m: MatrixSpec): MatrixSpec => {
    if (hasWasmMatmul(m.dtype)) return m;
    let w = done.get(m);
    if (!w) {
      w = { ...m, dtype: 'f16' };
      done.set(m, w);
      source.set(w, m);
      byType.set(m.dtype, [...(byType.get(m.dtype) ?? []), m.name]);
    }
    return w;
  };
  const w = layout.weights;
  const tokenEmbedding = widen(w.tokenEmbedding);
  const layers = w.layers.map((l) => {
    const copy = { ...l };
    for (const k of LAYER_MATRICES as readonly LayerMatrix[]) copy[k] = widen(l[k]);
    return copy;
  });
  const output = widen(w.output);
  const notes = [...byType].map(([dtype, names]) =>
    `the wasm backend has no ${dtype} kernels yet: ${names.length} matri${names.length === 1 ? 'x' : 'ces'} decoded to f16 at load ` +
    `(${names.length <= 3 ? names.join(', ') : `${names.slice(0, 3).join(', ')}, ...`}); --backend ts runs them as stored`);
  return { layout: { config: layout.config, weights: { tokenEmbedding, layers, norm: w.norm, output } }, source, notes };
}

// Decodes `bytes` (a whole matrix of the file's spec) into `out`: [rows, cols] half bits.
export function decodeToF16(file: MatrixSpec, bytes: Uint8Array, out: Uint16Array): void {
  const quantized: WeightTensor = { dtype: file.dtype, rows: file.rows, cols: file.cols, data: bytes };
  const row = new Float32Array(file.cols); // [cols]
  for (let r = 0; r < file.rows; r++) {
    readRow(quantized, r, row);
    for (let c = 0; c < file.cols; c++) out[r * file.cols + c] = f32ToF16(row[c]);
  }
}

// The same for a tensor already in memory (models handed to createModelKernels).
export function widenTensor(t: WeightTensor): WeightTensor {
  if (hasWasmMatmul(t.dtype)) return t;
  const data = new Uint16Array(t.rows * t.cols); // [rows, cols] half bits
  decodeToF16({ name: '', dtype: t.dtype, rows: t.rows, cols: t.cols, offset: 0, byteLength: t.data.byteLength }, t.data as Uint8Array, data);
  return { dtype: 'f16', rows: t.rows, cols: t.cols, data };
}
