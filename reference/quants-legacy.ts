// ggml's 32-value block types, decoded one block at a time: the readable truth for every
// faster kernel. Each function reads the block at bytes[o ..] and writes its 32 values
// to out[start .. start + 32). Scales are IEEE halves, little-endian; ggml computes in
// float32, hence Math.fround where a product is rounded before the next step.
//
// In every type below, byte j of the 16 quant bytes `qs` holds value j in its low nibble
// and value j + 16 in its high nibble:
//
//   qs[j] = [ hi: value j+16 | lo: value j ]          j = 0..15
//
//   Q4_0    (18 bytes)  0: d f16 | 2: qs[16]                       x = d · (q − 8)
//   Q4_1    (20 bytes)  0: d f16 | 2: m f16 | 4: qs[16]            x = d · q + m
//   Q5_0    (22 bytes)  0: d f16 | 2: qh u32 | 6: qs[16]           x = d · (q − 16)
//   Q5_1    (24 bytes)  0: d f16 | 2: m f16 | 4: qh u32 | 8: qs[16] x = d · q + m
//   Q8_0    (34 bytes)  0: d f16 | 2: q int8[32]                   x = d · q
//   IQ4_NL  (18 bytes)  0: d f16 | 2: qs[16]                       x = d · IQ4_NL_VALUES[q]
//
// Q5_0/Q5_1 add a fifth bit: bit j of the little-endian u32 qh is the high bit of value j
// (j = 0..31), so q = nibble | (qh >> j & 1) << 4.
// IQ4_NL's nibble indexes a fixed non-uniform table, denser near zero where weights are.
import { f16ToF32 } from './half.js';

export const QK_LEGACY = 32; // values per block

const f = Math.fround;

// The 16 levels of IQ4_NL (ggml's kvalues_iq4nl).
export const IQ4_NL_VALUES: readonly number[] = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

function half(bytes: Uint8Array, o: number): number {
  return f16ToF32(bytes[o] | (bytes[o + 1] << 8));
}

function u32(bytes: Uint8Array, o: number): number {
  return (bytes[o] | (bytes[o + 1] << 8) | (bytes[o + 2] << 16) | (bytes[o + 3] << 24)) >>> 0;
}

// The 4-bit quant of value j (0..31) from the 16 bytes at qs.
function nibble(bytes: Uint8Array, qs: number, j: number): number {
  return j < 16 ? bytes[qs + j] & 0x0f : bytes[qs + j - 16] >> 4;
}

export function dequantizeQ4_0(bytes: Uint8Array, o: number, out: Float32Array, start: number): void {
  const d = half(bytes, o);
  for (let j = 0; j < 32; j++) out[start + j] = f(d * (nibble(bytes, o + 2, j) - 8));
}

export function dequantizeQ4_1(bytes: Uint8Array, o: number, out: Float32Array, start: number): void {
  const d = half(bytes, o);
  const m = half(bytes, o + 2);
  for (let j = 0; j < 32; j++) out[start + j] = f(f(d * nibble(bytes, o + 4, j)) + m);
}

export function dequantizeQ5_0(bytes: Uint8Array, o: number, out: Float32Array, start: number): void {
  const d = half(bytes, o);
  const qh = u32(bytes, o + 2);
  for (let j = 0; j < 32; j++) {
    const q = nibble(bytes, o + 6, j) | (((qh >>> j) & 1) << 4);
    out[start + j] = f(d * (q - 16));
  }
}

export function dequantizeQ5_1(bytes: Uint8Array, o: number, out: Float32Array, start: number): void {
  const d = half(bytes, o);
  const m = half(bytes, o + 2);
  const qh = u32(bytes, o + 4);
  for (let j = 0; j < 32; j++) {
    const q = nibble(bytes, o + 8, j) | (((qh >>> j) & 1) << 4);
    out[start + j] = f(f(d * q) + m);
  }
}

export function dequantizeQ8_0(bytes: Uint8Array, o: number, out: Float32Array, start: number): void {
  const d = half(bytes, o);
  for (let j = 0; j < 32; j++) out[start + j] = f(d * ((bytes[o + 2 + j] << 24) >> 24));
}

export function dequantizeIQ4_NL(bytes: Uint8Array, o: number, out: Float32Array, start: number): void {
  const d = half(bytes, o);
  for (let j = 0; j < 32; j++) out[start + j] = f(d * IQ4_NL_VALUES[nibble(bytes, o + 2, j)]);
}
