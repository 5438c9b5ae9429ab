// out[T, N] = x[T, K] · Wᵀ for the types decoded row by row into f32 scratch: the K-quants
// (Q2_K..Q6_K, super-blocks of 256) and Q4_1, Q5_0, Q5_1, IQ4_NL (blocks of 32). The layouts
// are drawn in reference/quants-k.ts and reference/quants-legacy.ts; each decoder here is
// that code's arithmetic (every product rounded to f32 in the same order, no fused
// multiply-add), so a decoded row equals readRow's bit for bit.
//
// A block of rows (about 64 KB of floats) is decoded into `scratch` once and then meets every
// tile of four tokens through the dense f32 loops of matmul.ts, the rest one token at a time
// (denseDot1): the decode is paid once per row for a whole prompt. Decoding (T < 4) goes
// through the integer kernels instead (kdot.ts, kdot256.ts, q6decode.ts, k16dot.ts,
// legacydot.ts), and so do the K-quants' prompts in the relaxed build (kgemm.ts, their rows
// unpacked by these same decoders into bytes: unpackRowK), unless the backend was made with
// activations: 'f32'.
//
// Every type decodes sixteen values at a time in SIMD.
import { denseDot1, tileRows } from './matmul';
import { i8Quarter0, i8Quarter1, i8Quarter2, i8Quarter3, loadByte as byte, loadHalf as half, pick } from './simd';
import { blockScratchBytes } from './blocks';

// Storage type codes (the JavaScript side passes them; src/backends/wasm/kernels.ts)
export const Q4_1: i32 = 0;
export const Q5_0: i32 = 1;
export const Q5_1: i32 = 2;
export const IQ4_NL: i32 = 3;
export const Q2_K: i32 = 4;
export const Q3_K: i32 = 5;
export const Q4_K: i32 = 6;
export const Q5_K: i32 = 7;
export const Q6_K: i32 = 8;

// Values and bytes of one block of each type, by code
@inline
export function typeBlockValues(type: i32): i32 {
  return type >= Q2_K ? 256 : 32;
}
export function typeBlockBytes(type: i32): i32 {
  switch (type) {
    case Q4_1: return 20;
    case Q5_0: return 22;
    case Q5_1: return 24;
    case IQ4_NL: return 18;
    case Q2_K: return 84;
    case Q3_K: return 110;
    case Q4_K: return 144;
    case Q5_K: return 176;
    default: return 210; // Q6_K
  }
}

// The 16 levels of IQ4_NL (ggml's kvalues_iq4nl)
export const IQ4_NL_VALUES = memory.data<i8>([-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113]);

// --- blocks of 32: byte j of qs holds value j (low nibble) and j + 16 (high) ----------------

// Q5_0/Q5_1's fifth bits: 0x10 in each byte whose value's bit is set in the u32 at qh. picks:
// the qh byte of each value (0 ×8, 1 ×8 for values 0..15; 2 ×8, 3 ×8 for 16..31), bitOf: the
// bit of each value in its byte (1 2 4 … 128, twice), bit4: 0x10 in every byte. (legacydot.ts
// too, with the vectors made once per matmul.)
@inline
export function fifthBits(qh: usize, picks: v128, bitOf: v128, bit4: v128): v128 {
  const spread = pick(v128.load32_splat(qh), picks);
  return v128.and(i8x16.eq(v128.and(spread, bitOf), bitOf), bit4);
}

// Q4_1, Q5_0, Q5_1 and IQ4_NL: the sixteen low nibbles are values 0..15, the high 16..31;
// Q5_0/Q5_1's fifth bits spread from qh (a swizzle picks qh's byte j / 8 for value j, the
// mask its bit j % 8), IQ4_NL's levels looked up by a swizzle
function decodeLegacy(type: i32, b: usize, out: usize): void {
  const d = half(b);
  const low = i8x16.splat(0x0f);
  const packed = v128.load(b + (type == Q4_1 ? 4 : type == Q5_0 ? 6 : type == Q5_1 ? 8 : 2));
  let lo = v128.and(packed, low); // values 0..15
  let hi = i8x16.shr_u(packed, 4); // 16..31
  let offset: f32 = 0; // w = d·q − offset
  if (type == IQ4_NL) {
    const levels = v128.load(IQ4_NL_VALUES);
    lo = pick(levels, lo);
    hi = pick(levels, hi);
  } else {
    if (type != Q4_1) {
      const qh = b + (type == Q5_0 ? 2 : 4);
      const bitOf = i8x16(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128);
      const bit4 = i8x16.splat(0x10);
      lo = v128.or(lo, fifthBits(qh, i8x16(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1), bitOf, bit4));
      hi = v128.or(hi, fifthBits(qh, i8x16(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3), bitOf, bit4));
    }
    if (type == Q5_0) {
      lo = i8x16.sub(lo, i8x16.splat(16));
      hi = i8x16.sub(hi, i8x16.splat(16));
    } else {
      offset = -half(b + 2); // w = d·q + m
    }
  }
  store16(out, lo, d, offset);
  store16(out + 64, hi, d, offset);
}

// --- super-blocks of 256 -----------------------------------------------------------------------

// The 6-bit scale (low 6 bits of the result) and min (bits 8..13) of sub-block j (0..7) from
// the 12 scale bytes at s (Q4_K, Q5_K): sub-blocks 4-7 take a nibble of byte j + 4 and the
// top two bits of bytes j − 4 (scale) and j (min)
@inline
function scaleMinK4(s: usize, j: i32): i32 {
  if (j < 4) return (byte(s + j) & 63) | ((byte(s + j + 4) & 63) << 8);
  const sc = (byte(s + j + 4) & 0x0f) | ((byte(s + j - 4) >> 6) << 4);
  const m = (byte(s + j + 4) >> 4) | ((byte(s + j) >> 6) << 4);
  return sc | (m << 8);
}

// The 6-bit scale of sub-block j (0..15) from the 12 bytes at s (Q3_K)
@inline
function scaleQ3_K(s: usize, j: i32): i32 {
  const low = j < 8 ? byte(s + j) & 0x0f : byte(s + j - 8) >> 4;
  const high = (byte(s + 8 + (j & 3)) >> (2 * (j >> 2))) & 3;
  return low | (high << 4);
}

// Sixteen values (one i8x16 of quants) times `scale`, minus `offset`, at out (two roundings,
// as the reference: no fused multiply-add)
@inline
function store16(out: usize, q: v128, scale: f32, offset: f32): void {
  const s = f32x4.splat(scale);
  const o = f32x4.splat(offset);
  v128.store(out, f32x4.sub(f32x4.mul(s, i8Quarter0(q)), o));
  v128.store(out, f32x4.sub(f32x4.mul(s, i8Quarter1(q)), o), 16);
  v128.store(out, f32x4.sub(f32x4.mul(s, i8Quarter2(q)), o), 32);
  v128.store(out, f32x4.sub(f32x4.mul(s, i8Quarter3(q)), o), 48);
}

// The K-quant decoders below unpack each super-block into sixteen groups of sixteen values,
// every group n·(d·sc) − dmin·m with n its unsigned quants (0..63), sc and m small integers,
// and hand each group to emit16. Where the groups go is chosen at compile time by S:
//
//   f32: the values, group j at out + 64·j (the f32 prompt route; readRow's bits), q = n − bias
//   u8:  the integer prompt GEMM's unpacked super-block (kgemm.ts), 576 bytes at out:
//
//     quants  [256] u8       at 0    n, in order (0..63: the 7-bit operand of the dot product)
//     scales  [16] i16x8     at 256  sc of group j, in all eight lanes (pmaddwd's operand)
//     offsets [16] i16       at 512  o_j: m (Q2_K, Q4_K, Q5_K), or sc where the offset is
//                                    a fixed bias (Q3_K: 4, Q6_K: 32)
//     dA, dB  f32            at 544  d, and −dmin or −bias·d
//
//   so that Σ w·x over the super-block is dA·Σ_j sc_j·Σ(n·x)_j + dB·Σ_j o_j·Σ(x)_j.
export const UNPACKED_BYTES: usize = 576;
export const UNPACKED_SCALES: usize = 256;
export const UNPACKED_OFFSETS: usize = 512;
export const UNPACKED_D: usize = 544;

@inline
function emit16<S>(out: usize, j: i32, n: v128, bias: i32, sc: i32, m: i32, d: f32, dmin: f32): void {
  if (sizeof<S>() == 4) {
    store16(out + (<usize>j << 6), bias != 0 ? i8x16.sub(n, i8x16.splat(<i8>bias)) : n, d * <f32>sc, dmin * <f32>m);
  } else {
    v128.store(out + (<usize>j << 4), n);
    v128.store(out + UNPACKED_SCALES + (<usize>j << 4), i16x8.splat(<i16>sc));
    store<i16>(out + UNPACKED_OFFSETS + (<usize>j << 1), <i16>(bias != 0 ? sc : m));
  }
}

// The super-block's two factors, for the u8 sink (see emit16)
@inline
function emitFactors<S>(out: usize, dA: f32, dB: f32): void {
  if (sizeof<S>() == 1) {
    store<f32>(out + UNPACKED_D, dA);
    store<f32>(out + UNPACKED_D, dB, 4);
  }
}

// Q2_K and Q3_K: sub-block j = 8h + 2r + g (sixteen values) takes bits 2r..2r+1 of the plane
// bytes qs[32h + 16g ..]; Q3_K's third bit is bit 4h + r of hmask[16g ..]
function decodeQ2_K<S>(b: usize, out: usize): void {
  const d = half(b + 80);
  const dmin = half(b + 82);
  const three = i8x16.splat(3);
  emitFactors<S>(out, d, -dmin);
  for (let j = 0; j < 16; j++) {
    const h = j >> 3, r = (j >> 1) & 3, g = j & 1;
    const q = v128.and(i8x16.shr_u(v128.load(b + 16 + 32 * h + 16 * g), <u32>(2 * r)), three);
    const packed = byte(b + j);
    emit16<S>(out, j, q, 0, packed & 0x0f, packed >> 4, d, dmin);
  }
}

function decodeQ3_K<S>(b: usize, out: usize): void {
  const d = half(b + 108);
  const three = i8x16.splat(3);
  emitFactors<S>(out, d, -4 * d);
  for (let j = 0; j < 16; j++) {
    const h = j >> 3, r = (j >> 1) & 3, g = j & 1;
    const lowBits = v128.and(i8x16.shr_u(v128.load(b + 32 + 32 * h + 16 * g), <u32>(2 * r)), three);
    const third = i8x16.shl(v128.and(i8x16.shr_u(v128.load(b + 16 * g), <u32>(4 * h + r)), i8x16.splat(1)), 2);
    emit16<S>(out, j, v128.or(lowBits, third), 4, scaleQ3_K(b + 96, j) - 32, 0, d, 0); // q = n − 4: −4..3
  }
}

// Q4_K: chunk c of 64 values is bytes qs[32c ..]: sub-block 2c their low nibbles, 2c + 1 the high
function decodeQ4_K<S>(b: usize, out: usize): void {
  const d = half(b);
  const dmin = half(b + 2);
  const low = i8x16.splat(0x0f);
  emitFactors<S>(out, d, -dmin);
  for (let c = 0; c < 4; c++) {
    const q0 = v128.load(b + 16 + 32 * c);
    const q1 = v128.load(b + 32 + 32 * c);
    const sm0 = scaleMinK4(b + 4, 2 * c);
    const sm1 = scaleMinK4(b + 4, 2 * c + 1);
    emit16<S>(out, 4 * c, v128.and(q0, low), 0, sm0 & 63, sm0 >> 8, d, dmin);
    emit16<S>(out, 4 * c + 1, v128.and(q1, low), 0, sm0 & 63, sm0 >> 8, d, dmin);
    emit16<S>(out, 4 * c + 2, i8x16.shr_u(q0, 4), 0, sm1 & 63, sm1 >> 8, d, dmin);
    emit16<S>(out, 4 * c + 3, i8x16.shr_u(q1, 4), 0, sm1 & 63, sm1 >> 8, d, dmin);
  }
}

// Q5_K: as Q4_K (qs at 48), the fifth bit of sub-block j bit j of qh[l] (bytes 16..47)
function decodeQ5_K<S>(b: usize, out: usize): void {
  const d = half(b);
  const dmin = half(b + 2);
  const low = i8x16.splat(0x0f);
  const one = i8x16.splat(1);
  const h0 = v128.load(b + 16);
  const h1 = v128.load(b + 32);
  emitFactors<S>(out, d, -dmin);
  for (let j = 0; j < 8; j++) {
    const c = j >> 1;
    const q0 = v128.load(b + 48 + 32 * c);
    const q1 = v128.load(b + 64 + 32 * c);
    const sm = scaleMinK4(b + 4, j);
    const shift = <u32>j;
    const lo = v128.or(j & 1 ? i8x16.shr_u(q0, 4) : v128.and(q0, low), i8x16.shl(v128.and(i8x16.shr_u(h0, shift), one), 4));
    const hi = v128.or(j & 1 ? i8x16.shr_u(q1, 4) : v128.and(q1, low), i8x16.shl(v128.and(i8x16.shr_u(h1, shift), one), 4));
    emit16<S>(out, 2 * j, lo, 0, sm & 63, sm >> 8, d, dmin);
    emit16<S>(out, 2 * j + 1, hi, 0, sm & 63, sm >> 8, d, dmin);
  }
}

// Q6_K: half h, quarter r, sixteen l at a time: n = ql nibble | (qh bits 2r..2r+1) << 4, q = n − 32
function decodeQ6_K<S>(b: usize, out: usize): void {
  const d = half(b + 208);
  const low = i8x16.splat(0x0f);
  const three = i8x16.splat(3);
  emitFactors<S>(out, d, -32 * d);
  for (let h = 0; h < 2; h++) {
    for (let r = 0; r < 4; r++) {
      for (let g = 0; g < 2; g++) {
        const l = <usize>(16 * g);
        const lowBytes = v128.load(b + 64 * h + 32 * (r & 1) + l);
        const lowBits = r < 2 ? v128.and(lowBytes, low) : i8x16.shr_u(lowBytes, 4);
        const highBits = i8x16.shl(v128.and(i8x16.shr_u(v128.load(b + 128 + 32 * h + l), <u32>(2 * r)), three), 4);
        const j = 8 * h + 2 * r + g; // sub-block of 16
        emit16<S>(out, j, v128.or(lowBits, highBits), 32, load<i8>(b + 192 + j), 0, d, 0);
      }
    }
  }
}

// Row `row` of w (K values), each block handed to its decoder with sink S (see emit16): f32,
// decoded to floats at out [K]; u8 (K-quants only), unpacked for kgemm.ts into K / 256
// super-blocks of UNPACKED_BYTES at out
function decodeRow<S>(type: i32, out: usize, row: usize, K: i32): void {
  const values = typeBlockValues(type);
  const bytes = <usize>typeBlockBytes(type);
  const outBytes: usize = sizeof<S>() == 4 ? <usize>values << 2 : UNPACKED_BYTES;
  const nb = K / values;
  for (let i = 0; i < nb; i++) {
    const b = row + <usize>i * bytes;
    const o = out + <usize>i * outBytes;
    switch (type) {
      case Q2_K: decodeQ2_K<S>(b, o); break;
      case Q3_K: decodeQ3_K<S>(b, o); break;
      case Q4_K: decodeQ4_K<S>(b, o); break;
      case Q5_K: decodeQ5_K<S>(b, o); break;
      case Q6_K: decodeQ6_K<S>(b, o); break;
      default: if (sizeof<S>() == 4) decodeLegacy(type, b, o);
    }
  }
}

// Row `row` of a K-quant (K values) unpacked for kgemm.ts
export function unpackRowK(type: i32, out: usize, row: usize, K: i32): void {
  decodeRow<u8>(type, out, row, K);
}

// out: [T, N], x: [T, K] f32, w: [N, K/values blocks] of `type`; rows n0 ≤ n < n1. scratch:
// this thread's blockScratchBytes(K) bytes.
export function matmulDecoded(type: i32, out: usize, x: usize, w: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32, scratch: usize): void {
  const rowBytes = <usize>(K / typeBlockValues(type)) * typeBlockBytes(type);
  const floatRow = <usize>K * 4;
  const blockRows = max(2, <i32>(blockScratchBytes(K) / floatRow) & ~1);
  const tiled = T & ~3;
  for (let r0 = n0; r0 < n1; r0 += blockRows) {
    const r1 = min(n1, r0 + blockRows);
    for (let n = r0; n < r1; n++) decodeRow<f32>(type, scratch + <usize>(n - r0) * floatRow, w + <usize>n * rowBytes, K);
    for (let t = 0; t < tiled; t += 4) tileRows<f32>(out, x, scratch, floatRow, t, K, N, r0, r1);
    for (let t = tiled; t < T; t++) {
      const xt = x + <usize>t * K * 4;
      for (let n = r0; n < r1; n++) store<f32>(out + (<usize>t * N + n) * 4, denseDot1<f32>(xt, scratch + <usize>(n - r0) * floatRow, K));
    }
  }
}
