// Float32 rows -> GGUF storage types, as ggml's reference quantizers do it (ggml-quants.c,
// quantize_row_q8_0_ref / quantize_row_q4_0_ref), so a tensor quantized here holds the
// same bytes llama.cpp would write. The arithmetic is float32 in ggml, hence the
// Math.fround after every step.
//
//   q8_0  per block of 32: d = max|x| / 127, q = round(x / d)            (round half away from 0)
//   q4_0  per block of 32: m = the x with the largest |x|, sign kept; d = m / −8,
//         q = min(15, trunc(x / d + 8.5)); byte j = q[j] | q[j+16] << 4
//
// The other 32-value types are in legacy-quants.ts, the 256-value K-quants in k-quants.ts.
import { BLOCK_BYTES, BLOCK_VALUES, f32ToF16, QK, rowBytes, toF32, type DType, type QuantizedDType, type WeightTensor } from '../../reference/tensor.js';
import { quantizeBlockQ2_K, quantizeBlockQ3_K, quantizeBlockQ4_K, quantizeBlockQ5_K, quantizeBlockQ6_K, quantizeBlockQ8_K } from './k-quants.js';
import { quantizeBlockIQ4_NL, quantizeBlockQ4_1, quantizeBlockQ5_0, quantizeBlockQ5_1 } from './legacy-quants.js';

const f = Math.fround;

function checkShape(dtype: DType, values: Float32Array, rows: number, cols: number): void {
  if (!Number.isSafeInteger(rows) || !Number.isSafeInteger(cols) || rows <= 0 || cols <= 0) {
    throw new Error(`quantize ${dtype}: bad shape [${rows}, ${cols}]`);
  }
  if (values.length !== rows * cols) throw new Error(`quantize ${dtype}: ${values.length} values for shape [${rows}, ${cols}]`);
  if (cols % BLOCK_VALUES[dtype] !== 0) {
    throw new Error(`quantize ${dtype}: a row of ${cols} values is not whole blocks of ${BLOCK_VALUES[dtype]}`);
  }
}

// C's roundf: halfway cases away from zero (Math.round would send −2.5 to −2).
function roundHalfAway(x: number): number {
  return Math.sign(x) * Math.round(Math.abs(x));
}

function writeHalf(out: Uint8Array, offset: number, x: number): void {
  const h = f32ToF16(x);
  out[offset] = h & 0xff;
  out[offset + 1] = h >> 8;
}

// One block of 32 values at x[start..] into out[offset .. offset+34)
function quantizeBlockQ8_0(x: Float32Array, start: number, out: Uint8Array, offset: number): void {
  let amax = 0;
  for (let j = 0; j < QK; j++) amax = Math.max(amax, Math.abs(x[start + j]));
  const d = f(amax / 127);
  const id = d ? f(1 / d) : 0;
  writeHalf(out, offset, d);
  for (let j = 0; j < QK; j++) out[offset + 2 + j] = roundHalfAway(f(x[start + j] * id)) & 0xff;
}

// One block of 32 values at x[start..] into out[offset .. offset+18)
function quantizeBlockQ4_0(x: Float32Array, start: number, out: Uint8Array, offset: number): void {
  let amax = 0;
  let max = 0;
  for (let j = 0; j < QK; j++) {
    const v = x[start + j];
    if (amax < Math.abs(v)) {
      amax = Math.abs(v);
      max = v;
    }
  }
  const d = f(max / -8);
  const id = d ? f(1 / d) : 0;
  writeHalf(out, offset, d);
  const nibble = (v: number): number => Math.min(15, Math.trunc(f(f(v * id) + 8.5)));
  for (let j = 0; j < QK / 2; j++) {
    out[offset + 2 + j] = nibble(x[start + j]) | (nibble(x[start + j + QK / 2]) << 4);
  }
}

// Quantizes the block of BLOCK_VALUES[dtype] values at x[start..] into out[offset..].
type BlockQuantizer = (x: Float32Array, start: number, out: Uint8Array, offset: number) => void;
const QUANTIZE_BLOCK: Record<QuantizedDType, BlockQuantizer> = {
  q8_0: quantizeBlockQ8_0, q4_0: quantizeBlockQ4_0, q4_1: quantizeBlockQ4_1, q5_0: quantizeBlockQ5_0, q5_1: quantizeBlockQ5_1,
  iq4_nl: quantizeBlockIQ4_NL,
  q2_k: quantizeBlockQ2_K, q3_k: quantizeBlockQ3_K, q4_k: quantizeBlockQ4_K, q5_k: quantizeBlockQ5_K, q6_k: quantizeBlockQ6_K,
  q8_k: quantizeBlockQ8_K,
};

// values: [rows, cols] float32 -> a WeightTensor of the given storage type
export function quantize(values: Float32Array, rows: number, cols: number, dtype: DType): WeightTensor {
  checkShape(dtype, values, rows, cols);
  if (dtype === 'f32') return { dtype, rows, cols, data: values.slice() };
  if (dtype === 'f16') {
    const halves = new Uint16Array(rows * cols);
    for (let i = 0; i < halves.length; i++) halves[i] = f32ToF16(values[i]);
    return { dtype, rows, cols, data: halves };
  }
  const quantizeBlock = QUANTIZE_BLOCK[dtype];
  const data = new Uint8Array(rows * rowBytes(dtype, cols));
  const n = BLOCK_VALUES[dtype];
  const nBlocks = (rows * cols) / n;
  for (let b = 0; b < nBlocks; b++) quantizeBlock(values, b * n, data, b * BLOCK_BYTES[dtype]);
  return { dtype, rows, cols, data };
}
