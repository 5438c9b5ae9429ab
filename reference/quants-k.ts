// ggml's K-quants: super-blocks of 256 values, split into sub-blocks of 16 or 32 values
// that each have a small integer scale (and min), themselves scaled by one or two halves
// per super-block. Decoded one super-block at a time, value by value, so that where each
// bit of value v comes from reads straight off the code: the readable truth for every
// faster kernel. Each function reads the block at bytes[o ..] and writes its 256 values to
// out[start .. start + 256). Halves are little-endian; ggml computes in float32, hence
// Math.fround where a product is rounded before the next step.
//
// Two ways of packing low bits recur (v = 0..255 is the value's index in the super-block):
//
//   2-bit planes (Q2_K, Q3_K): 64 bytes qs, 128 values per half h = v >> 7; within a half,
//     byte qs[32h + l] holds values 128h + l, +32, +64, +96 in bits 0-1, 2-3, 4-5, 6-7:
//       q_low(v) = qs[32h + (v & 31)] >> 2·((v >> 5) & 3) & 3
//
//   nibble pairs (Q4_K, Q5_K): 128 bytes qs, 64 values per chunk c = v >> 6; byte
//     qs[32c + l] holds value 64c + l in its low nibble and 64c + 32 + l in its high one.
//
// ---------------------------------------------------------------------------------------
// Q2_K (84 bytes)  x = d·sc·q − dmin·m, q 2 bits, 16 sub-blocks of 16
//    0  scales[16]  sub-block j = v >> 4: low nibble sc, high nibble m (4 bits each)
//   16  qs[64]      2-bit planes
//   80  d    f16    scale of the scales
//   82  dmin f16    scale of the mins
//
// Q3_K (110 bytes)  x = d·(s − 32)·(q − 4), q 3 bits, 16 sub-blocks of 16, s 6 bits
//    0  hmask[32]   the third bit: hmask[v & 31] bit (v >> 5); a SET bit means q ≥ 4
//   32  qs[64]      2-bit planes (the low two bits)
//   96  scales[12]  s of sub-block j: low 4 bits in bytes 0-7 (j < 8: low nibble of
//                   byte j; j ≥ 8: high nibble of byte j − 8), high 2 bits in bytes 8-11
//                   (byte 8 + j % 4, bits 2·(j / 4) .. +1)
//  108  d    f16
//
// Q4_K (144 bytes)  x = d·sc·q − dmin·m, q 4 bits, 8 sub-blocks of 32, sc and m 6 bits
//    0  d    f16
//    2  dmin f16
//    4  scales[12]  the 6-bit sc and m of sub-blocks j = v >> 5, packed as below
//   16  qs[128]     nibble pairs
//
// Q5_K (176 bytes)  as Q4_K with a fifth bit, q 5 bits
//    0  d f16 | 2 dmin f16 | 4 scales[12] (as Q4_K)
//   16  qh[32]      the fifth bit: qh[v & 31] bit (v >> 5)
//   48  qs[128]     nibble pairs (the low four bits)
//
// Q6_K (210 bytes)  x = d·s·(q − 32), q 6 bits, 16 sub-blocks of 16, s int8
//    0  ql[128]     low 4 bits: half h = v >> 7, quarter r = (v >> 5) & 3, l = v & 31:
//                   byte ql[64h + 32·(r & 1) + l], low nibble for r < 2, high for r ≥ 2
//  128  qh[64]      high 2 bits: qh[32h + l] bits 2r .. 2r+1
//  192  scales[16]  int8, sub-block j = v >> 4
//  208  d    f16
//
// Q8_K (292 bytes)  x = d·q; ggml's intermediate type for dot products
//    0  d f32 | 4 q int8[256] | 260 bsums int16[16] (sums of q by 16, not needed to decode)
//
// The 12 scale bytes of Q4_K/Q5_K: eight 6-bit scales sc0..sc7 and eight mins m0..m7.
//
//   byte     bits 7-6    bits 5-0
//   0..3     sc4..7 hi   sc0..3                 (hi = bits 5-4 of the 6-bit value)
//   4..7     m4..7 hi    m0..3
//            bits 7-4    bits 3-0
//   8..11    m4..7 lo    sc4..7 lo              (lo = bits 3-0)
//
// so sub-blocks 0-3 read whole 6-bit values from bytes j and j + 4, and sub-blocks 4-7
// assemble theirs from a nibble of byte j + 4 and the top two bits of bytes j − 4 and j.
import { f16ToF32 } from './half.js';

export const QK_K = 256; // values per super-block

const f = Math.fround;

function half(bytes: Uint8Array, o: number): number {
  return f16ToF32(bytes[o] | (bytes[o + 1] << 8));
}

// q_low(v) of the 2-bit planes at qs
function twoBits(bytes: Uint8Array, qs: number, v: number): number {
  return (bytes[qs + 32 * (v >> 7) + (v & 31)] >> (2 * ((v >> 5) & 3))) & 3;
}

// the 4-bit quant of v from the nibble pairs at qs
function nibblePair(bytes: Uint8Array, qs: number, v: number): number {
  const byte = bytes[qs + 32 * (v >> 6) + (v & 31)];
  return v & 32 ? byte >> 4 : byte & 0x0f;
}

// The 6-bit scale and min of sub-block j (0..7) from the 12 scale bytes at s (Q4_K, Q5_K).
export function scaleMinK4(bytes: Uint8Array, s: number, j: number): { sc: number; m: number } {
  if (j < 4) return { sc: bytes[s + j] & 63, m: bytes[s + j + 4] & 63 };
  return {
    sc: (bytes[s + j + 4] & 0x0f) | ((bytes[s + j - 4] >> 6) << 4),
    m: (bytes[s + j + 4] >> 4) | ((bytes[s + j] >> 6) << 4),
  };
}

// The 6-bit scale (0..63, 32 meaning zero) of sub-block j (0..15) from the 12 bytes at s (Q3_K).
export function scaleQ3_K(bytes: Uint8Array, s: number, j: number): number {
  const low = j < 8 ? bytes[s + j] & 0x0f : bytes[s + j - 8] >> 4;
  const high = (bytes[s + 8 + (j % 4)] >> (2 * (j >> 2))) & 3;
  return low | (high << 4);
}

export function dequantizeQ2_K(bytes: Uint8Array, o: number, out: Float32Array, start: number): void {
  const d = half(bytes, o + 80);
  const dmin = half(bytes, o + 82);
  for (let v = 0; v < QK_K; v++) {
    const packed = bytes[o + (v >> 4)];
    const dl = f(d * (packed & 0x0f));
    const ml = f(dmin * (packed >> 4));
    out[start + v] = f(f(dl * twoBits(bytes, o + 16, v)) - ml);
  }
}

export function dequantizeQ3_K(bytes: Uint8Array, o: number, out: Float32Array, start: number): void {
  const d = half(bytes, o + 108);
  for (let v = 0; v < QK_K; v++) {
    const dl = f(d * (scaleQ3_K(bytes, o + 96, v >> 4) - 32));
    const high = (bytes[o + (v & 31)] >> (v >> 5)) & 1;
    const q = twoBits(bytes, o + 32, v) - (high ? 0 : 4);
    out[start + v] = f(dl * q);
  }
}

export function dequantizeQ4_K(bytes: Uint8Array, o: number, out: Float32Array, start: number): void {
  const d = half(bytes, o);
  const dmin = half(bytes, o + 2);
  for (let v = 0; v < QK_K; v++) {
    const { sc, m } = scaleMinK4(bytes, o + 4, v >> 5);
    out[start + v] = f(f(f(d * sc) * nibblePair(bytes, o + 16, v)) - f(dmin * m));
  }
}

export function dequantizeQ5_K(bytes: Uint8Array, o: number, out: Float32Array, start: number): void {
  const d = half(bytes, o);
  const dmin = half(bytes, o + 2);
  for (let v = 0; v < QK_K; v++) {
    const { sc, m } = scaleMinK4(bytes, o + 4, v >> 5);
    const high = (bytes[o + 16 + (v & 31)] >> (v >> 5)) & 1;
    const q = nibblePair(bytes, o + 48, v) | (high << 4);
    out[start + v] = f(f(f(d * sc) * q) - f(dmin * m));
  }
}

export function dequantizeQ6_K(bytes: Uint8Array, o: number, out: Float32Array, start: number): void {
  const d = half(bytes, o + 208);
  for (let v = 0; v < QK_K; v++) {
    const h = v >> 7, r = (v >> 5) & 3, l = v & 31;
    const lowByte = bytes[o + 64 * h + 32 * (r & 1) + l];
    const low = r < 2 ? lowByte & 0x0f : lowByte >> 4;
    const high = (bytes[o + 128 + 32 * h + l] >> (2 * r)) & 3;
    const scale = (bytes[o + 192 + (v >> 4)] << 24) >> 24;
    out[start + v] = f(f(d * scale) * ((low | (high << 4)) - 32));
  }
}

export function dequantizeQ8_K(bytes: Uint8Array, o: number, out: Float32Array, start: number): void {
  const d = new DataView(bytes.buffer, bytes.byteOffset + o, 4).getFloat32(0, true);
  for (let v = 0; v < QK_K; v++) out[start + v] = f(d * ((bytes[o + 4 + v] << 24) >> 24));
}
