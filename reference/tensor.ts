// Weight tensors as they come out of a model file: a row-major matrix [rows, cols]
// in one of the storage types below. Activations are always plain Float32Array.
//
//   f32   one float32 per value
//   f16   one IEEE half per value (Uint16Array of raw bits)
//   the quantized types: ggml's blocks, each a few halves of scale and packed integers,
//         drawn byte by byte where they are decoded:
//     q8_0 q4_0 q4_1 q5_0 q5_1 iq4_nl   blocks of 32 values   (quants-legacy.ts)
//     q2_k q3_k q4_k q5_k q6_k q8_k     super-blocks of 256   (quants-k.ts)
import { f16ToF32 } from './half.js';
import { dequantizeQ2_K, dequantizeQ3_K, dequantizeQ4_K, dequantizeQ5_K, dequantizeQ6_K, dequantizeQ8_K } from './quants-k.js';
import {
  dequantizeIQ4_NL, dequantizeQ4_0, dequantizeQ4_1, dequantizeQ5_0, dequantizeQ5_1, dequantizeQ8_0,
} from './quants-legacy.js';

export { f16ToF32, f32ToF16 } from './half.js';

export type DType =
  | 'f32' | 'f16'
  | 'q8_0' | 'q4_0' | 'q4_1' | 'q5_0' | 'q5_1' | 'iq4_nl'
  | 'q2_k' | 'q3_k' | 'q4_k' | 'q5_k' | 'q6_k' | 'q8_k';

export type QuantizedDType = Exclude<DType, 'f32' | 'f16'>;

export interface WeightTensor {
  dtype: DType;
  rows: number;
  cols: number;
  // f32: Float32Array(rows*cols); f16: Uint16Array(rows*cols); quantized: Uint8Array of blocks
  data: Float32Array | Uint16Array | Uint8Array;
}

export const QK = 32; // values per block of the 32-value types (q8_0, q4_0, ...)
// Values per block, and bytes per block (f32/f16: one value is a block).
export const BLOCK_VALUES: Record<DType, number> = {
  f32: 1, f16: 1, q8_0: 32, q4_0: 32, q4_1: 32, q5_0: 32, q5_1: 32, iq4_nl: 32,
  q2_k: 256, q3_k: 256, q4_k: 256, q5_k: 256, q6_k: 256, q8_k: 256,
};
export const BLOCK_BYTES: Record<DType, number> = {
  f32: 4, f16: 2, q8_0: 34, q4_0: 18, q4_1: 20, q5_0: 22, q5_1: 24, iq4_nl: 18,
  q2_k: 84, q3_k: 110, q4_k: 144, q5_k: 176, q6_k: 210, q8_k: 292,
};
export const DTYPES = Object.keys(BLOCK_BYTES) as DType[];

// Decodes the block at bytes[offset ..] into out[start .. start + BLOCK_VALUES[dtype]).
type BlockDecoder = (bytes: Uint8Array, offset: number, out: Float32Array, start: number) => void;
const DEQUANTIZE_BLOCK: Record<QuantizedDType, BlockDecoder> = {
  q8_0: dequantizeQ8_0, q4_0: dequantizeQ4_0, q4_1: dequantizeQ4_1, q5_0: dequantizeQ5_0, q5_1: dequantizeQ5_1,
  iq4_nl: dequantizeIQ4_NL,
  q2_k: dequantizeQ2_K, q3_k: dequantizeQ3_K, q4_k: dequantizeQ4_K, q5_k: dequantizeQ5_K, q6_k: dequantizeQ6_K,
  q8_k: dequantizeQ8_K,
};

export function isDType(s: string): s is DType {
  return Object.hasOwn(BLOCK_BYTES, s);
}

// Bytes one row of `cols` values takes in a given storage type.
export function rowBytes(dtype: DType, cols: number): number {
  const n = BLOCK_VALUES[dtype];
  if (cols % n !== 0) throw new Error(`${dtype} rows need a multiple of ${n} values, got ${cols}`);
  return (cols / n) * BLOCK_BYTES[dtype];
}

export function f32Tensor(data: Float32Array, rows: number, cols: number): WeightTensor {
  if (data.length !== rows * cols) throw new Error(`f32 tensor: ${data.length} values for shape [${rows}, ${cols}]`);
  return { dtype: 'f32', rows, cols, data };
}

// Decodes row `r` of a weight tensor into `out` (length cols), whatever its storage type.
export function readRow(w: WeightTensor, r: number, out: Float32Array): void {
  const n = w.cols;
  if (w.dtype === 'f32') {
    out.set((w.data as Float32Array).subarray(r * n, r * n + n));
  } else if (w.dtype === 'f16') {
    const d = w.data as Uint16Array;
    for (let i = 0; i < n; i++) out[i] = f16ToF32(d[r * n + i]);
  } else {
    const decode = DEQUANTIZE_BLOCK[w.dtype];
    const bytes = w.data as Uint8Array;
    const values = BLOCK_VALUES[w.dtype];
    const base = r * rowBytes(w.dtype, n);
    for (let b = 0; b < n / values; b++) decode(bytes, base + b * BLOCK_BYTES[w.dtype], out, b * values);
  }
}

// The whole tensor as float32 (for tests and conversions; the kernels never need this).
export function toF32(w: WeightTensor): Float32Array {
  if (w.dtype === 'f32') return w.data as Float32Array;
  const out = new Float32Array(w.rows * w.cols);
  const row = new Float32Array(w.cols);
  for (let r = 0; r < w.rows; r++) {
    readRow(w, r, row);
    out.set(row, r * w.cols);
  }
  return out;
}
