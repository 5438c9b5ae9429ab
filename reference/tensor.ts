// Weight tensors as they come out of a model file: a row-major matrix [rows, cols]
// in one of the storage types below. Activations are always plain Float32Array.
//
//   f32   one float32 per value
//   f16   one IEEE half per value (Uint16Array of raw bits)
//   q8_0  GGUF blocks of 32: f16 scale d, then 32 int8 q;  x = d * q        (34 bytes)
//   q4_0  GGUF blocks of 32: f16 scale d, then 16 bytes;   x = d * (nibble - 8);
//         byte j holds value j in its low nibble and value j+16 in its high nibble (18 bytes)

export type DType = 'f32' | 'f16' | 'q8_0' | 'q4_0';

export interface WeightTensor {
  dtype: DType;
  rows: number;
  cols: number;
  // f32: Float32Array(rows*cols); f16: Uint16Array(rows*cols); q8_0/q4_0: Uint8Array of blocks
  data: Float32Array | Uint16Array | Uint8Array;
}

export const QK = 32; // values per quantized block
export const BLOCK_BYTES: Record<DType, number> = { f32: 4, f16: 2, q8_0: 34, q4_0: 18 };

// Bytes one row of `cols` values takes in a given storage type.
export function rowBytes(dtype: DType, cols: number): number {
  if (dtype === 'f32') return 4 * cols;
  if (dtype === 'f16') return 2 * cols;
  if (cols % QK !== 0) throw new Error(`${dtype} rows need a multiple of ${QK} values, got ${cols}`);
  return (cols / QK) * BLOCK_BYTES[dtype];
}

export function f32Tensor(data: Float32Array, rows: number, cols: number): WeightTensor {
  if (data.length !== rows * cols) throw new Error(`f32 tensor: ${data.length} values for shape [${rows}, ${cols}]`);
  return { dtype: 'f32', rows, cols, data };
}

// IEEE 754 half -> float (subnormals, infinities and NaN included).
export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

// float -> IEEE half, rounding to nearest even.
const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);
export function f32ToF16(x: number): number {
  f32Scratch[0] = x;
  const bits = u32Scratch[0];
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  return sign | half;
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
    const bytes = w.data as Uint8Array;
    const rb = rowBytes(w.dtype, n);
    const base = r * rb;
    const nb = n / QK;
    for (let b = 0; b < nb; b++) {
      const o = base + b * BLOCK_BYTES[w.dtype];
      const d = f16ToF32(bytes[o] | (bytes[o + 1] << 8));
      if (w.dtype === 'q8_0') {
        for (let j = 0; j < QK; j++) out[b * QK + j] = d * ((bytes[o + 2 + j] << 24) >> 24);
      } else {
        for (let j = 0; j < QK / 2; j++) {
          const byte = bytes[o + 2 + j];
          out[b * QK + j] = d * ((byte & 0x0f) - 8);
          out[b * QK + j + QK / 2] = d * ((byte >> 4) - 8);
        }
      }
    }
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
