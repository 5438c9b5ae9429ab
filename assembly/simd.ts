// Small SIMD building blocks shared by the kernels: multiply-add, horizontal sum, and
// the conversions of stored weights (IEEE halves, GGUF int8 and int4 blocks) to f32x4.
//
// Everything here is @inline: the kernels are hot loops and a call per four values
// would cost more than the arithmetic.

// a·b + acc, four lanes. With relaxed SIMD (a second build, --enable relaxed-simd) this is
// one fused multiply-add; without it, a rounded multiply then a rounded add.
@inline
export function madd(a: v128, b: v128, acc: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, acc);
  return f32x4.add(f32x4.mul(a, b), acc);
}

// Sum of the four lanes, pairwise: (l0 + l1) + (l2 + l3).
@inline
export function hsum(v: v128): f32 {
  const pairs = f32x4.add(v, v128.shuffle<f32>(v, v, 1, 0, 3, 2)); // l0+l1, l0+l1, l2+l3, l2+l3
  return f32x4.extract_lane(pairs, 0) + f32x4.extract_lane(pairs, 2);
}

// --- IEEE half -> float -----------------------------------------------------------------
//
// Shifting a half's exponent and mantissa left by 13 puts them in a float's exponent and
// mantissa fields, but with the float's bias (127) where the half's (15) belongs. One
// multiply by 2^112 corrects the bias and, because halves and floats share the subnormal
// scheme, turns half subnormals into the right normal floats too; but for those it takes a
// subnormal float as its operand, and x86 CPUs run an operation on a subnormal through a
// microcode assist of some hundred cycles (WebAssembly keeps subnormals: they cannot be
// flushed). Real K-quant files hit that on nearly every super-block: a Q6_K scale d is about
// 6e-4 of the weights' spread, 1.2e-5 for a spread of 0.02, below the smallest normal half
// (6.1e-5); Q5_K's is about 2.6e-3 of it. The assist made Q6_K decoding 2.5x slower.
//
// So the scalar form (the K-quants' scales, one or two per 256 values) works in integers:
// adding 112 to the exponent field rebiases a normal half; a subnormal one (exponent 0,
// value m·2^-24) takes field 113 instead, the float 2^-14 + m·2^-24, and 2^-14 is taken off
// again: exact (Sterbenz), with every operand and result normal. Exponent 31 (inf, NaN)
// becomes 255 in both forms; the sign is OR-ed in.

const HALF_REBIAS: i32 = 112 << 23; // half exponent field -> float exponent field
const HALF_SUBNORMAL_BIAS: i32 = 113 << 23; // a subnormal's field, the float 2^-14 + m·2^-24
const HALF_SUBNORMAL_FIX: i32 = 0x38800000; // 2^-14, taken off again
const HALF_BIAS_FIX: f32 = 5.192296858534828e33; // 2^112, the vector form's multiply

// h: four halves, each zero-extended in an i32 lane -> four floats. F16 weights and the
// scales of blocks of 32 are seldom subnormal (below 6.1e-5), and the integer decode costs
// this loop-bound conversion a third of its speed, so the vector form keeps one multiply by
// 2^112, which normalizes subnormals too (halves and floats share the subnormal scheme) at
// the price of an assist for each vector that holds one.
@inline
export function halvesToF32x4(h: v128): v128 {
  const magnitude = i32x4.shl(v128.and(h, i32x4.splat(0x7fff)), 13);
  let f = f32x4.mul(magnitude, f32x4.splat(HALF_BIAS_FIX));
  const infOrNaN = i32x4.eq(v128.and(h, i32x4.splat(0x7c00)), i32x4.splat(0x7c00));
  f = v128.or(f, v128.and(infOrNaN, i32x4.splat(0x7f800000)));
  return v128.or(f, i32x4.shl(v128.and(h, i32x4.splat(0x8000)), 16));
}

// Four halves at ptr (8 bytes, any alignment) -> f32x4
@inline
export function loadHalves(ptr: usize): v128 {
  return halvesToF32x4(v128.load16x4_u(ptr));
}

// One half (the scalar tails and the block scales), with selects rather than branches: in a
// real file, whether a block's scale is subnormal is a coin toss the branch predictor loses
@inline
export function halfToF32(h: u32): f32 {
  const exponent = h & 0x7c00;
  const subnormal = exponent == 0;
  const bits = ((h & 0x7fff) << 13) + <u32>select<i32>(HALF_SUBNORMAL_BIAS, HALF_REBIAS, subnormal);
  const fix = reinterpret<f32>(select<u32>(HALF_SUBNORMAL_FIX, 0, subnormal)); // integer select: V8 branches on f32 ones
  const f = reinterpret<f32>(bits) - fix;
  const special = select<u32>(0x7f800000, 0, exponent == 0x7c00); // inf or NaN: exponent 255
  return reinterpret<f32>(reinterpret<u32>(f) | special | ((h & 0x8000) << 16));
}

// i8x16.swizzle for indices known to be in range (0..15): relaxed SIMD's form gives the same
// bytes there and is one instruction shorter on x86 (no fix-up for out-of-range indices)
@inline
export function pick(v: v128, indices: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return i8x16.relaxed_swizzle(v, indices);
  return i8x16.swizzle(v, indices);
}

// Rows n0 ≤ n < n1 of a decoding kernel in four streams a quarter of the range apart, taken in
// turn: step i (0 ≤ i < streamSteps) is row streamRow(i), or n1 (to be skipped) where the
// count is not a multiple of four. Each stream is a sequential read that the hardware
// prefetcher follows, and four keep more memory requests in flight than one: a matrix
// streamed from L3 or DRAM (every matrix of a decoding model bigger than L2) ran 1.35× (Q4_K)
// and 1.3× (Q6_K) faster than one stream and 1.05-1.08× faster than two, one thread on x86,
// measured side by side; in cache it makes no difference.
const STREAMS: i32 = 4;

@inline
export function streamSteps(n0: i32, n1: i32): i32 {
  return (n1 - n0 + STREAMS - 1) / STREAMS * STREAMS;
}

@inline
export function streamRow(i: i32, n0: i32, n1: i32): i32 {
  const n = n0 + i / STREAMS + i % STREAMS * ((n1 - n0 + STREAMS - 1) / STREAMS);
  return n < n1 ? n : n1;
}

// One byte and one stored half at an address (the block headers of kblocks.ts and kdot.ts)
@inline
export function loadByte(p: usize): i32 {
  return <i32>load<u8>(p);
}

@inline
export function loadHalf(p: usize): f32 {
  return halfToF32(<u32>load<u16>(p));
}

// --- int8 lanes -> float -----------------------------------------------------------------

// Lanes 0-3, 4-7, 8-11, 12-15 of sixteen signed bytes, as f32x4 (exact: |q| ≤ 128)
@inline
export function i8Quarter0(q: v128): v128 {
  return f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(i16x8.extend_low_i8x16_s(q)));
}
@inline
export function i8Quarter1(q: v128): v128 {
  return f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(i16x8.extend_low_i8x16_s(q)));
}
@inline
export function i8Quarter2(q: v128): v128 {
  return f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(i16x8.extend_high_i8x16_s(q)));
}
@inline
export function i8Quarter3(q: v128): v128 {
  return f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(i16x8.extend_high_i8x16_s(q)));
}

// --- GGUF blocks of 32 ---------------------------------------------------------------------
//
//   q8_0: [f16 d][32 × int8]                      values 0..15 at +2, 16..31 at +18
//   q4_0: [f16 d][16 bytes: lo nibble j, hi nibble j+16]   value = nibble − 8

export const QK: i32 = 32;
export const Q8_0_BYTES: i32 = 34;
export const Q4_0_BYTES: i32 = 18;

// Bytes of one block of the storage type W: i8 for q8_0, u8 for q4_0 (the kernels' generic
// parameter for the two block types)
@inline
export function blockBytes<W>(): usize {
  return isSigned<W>() ? Q8_0_BYTES : Q4_0_BYTES;
}

@inline
export function blockScale(block: usize): f32 {
  return halfToF32(<u32>load<u16>(block));
}

// q4_0: values 0..15 (low nibbles) and 16..31 (high nibbles) as signed bytes in −8..7
@inline
export function q4Low(block: usize): v128 {
  const packed = v128.load(block, 2);
  return i8x16.sub(v128.and(packed, i8x16.splat(0x0f)), i8x16.splat(8));
}
@inline
export function q4High(block: usize): v128 {
  const packed = v128.load(block, 2);
  return i8x16.sub(i8x16.shr_u(packed, 4), i8x16.splat(8));
}
