// Prompts (T ≥ 4 tokens) on q4_0 weights as an integer GEMM: out[T, N] = x[T, K] · Wᵀ with
// the activations quantized once per call (quantizePrompt, d_x = max|x|/127 of each block of
// 32, as the decoding path and llama.cpp do) and each weight row unpacked once per call (per
// chunk of tokens) into a layout made for the product (unpackRow), then dotted with every token.
//
// Why: blocks.ts decodes weights to f32 and multiplies in f32, about 14 operations (8 fused
// multiply-adds, 6 loads) per 32 multiply-adds of the matmul. With relaxed SIMD (I8) a block
// of 32 takes 2 i16x8.relaxed_dot_i8x16_i7x16_s (x86: pmaddubsw, 16 products each) of the
// unsigned nibbles (0..15: the 7-bit operand) with the signed i8 activations, an i16 add and
// about 2.5 more to fold two rows' and two blocks' lanes together and widen them (one
// i32x4.dot_i16x8_s with ones, pmaddwd, per two blocks of two rows), about 1 to scale the sums
// in f32, and 3.75 loads: ~11 in all, 1.2-1.3× faster measured (the kernels alone, one core).
//
// The plain SIMD build has no such dot product: dotI8 below stands in for it there, with the
// same integer sums but several operations where relaxed SIMD has one, slower than blocks.ts,
// so the backend sends the plain build's prompts to blocks.ts (kernels.ts i8Dot); it compiles
// and is tested in both builds. (q8_0's weights are signed 8-bit, not a 7-bit operand: widened
// to i16 instead, this GEMM measured 0.6-0.7× blocks.ts, so q8_0 prompts stay there.)
//
// Numerics: the integer block sums are exact: the stored nibbles n = w + 8 are summed and
// 8·Σq_x taken off per block, in integers. Each block total is converted to f32 (exact: below
// 2^24), multiplied by d_w·d_x, and the blocks accumulate in f32 in the order b = 0, 2, 4, …
// and 1, 3, 5, … (two lanes a row), added at the end. Every output is computed by the same
// operations whatever its row partner, its thread and T.
import { absMax8, roundToI32 } from './activations';
import { halfToF32, madd, Q4_0_BYTES, QK } from './simd';

// Eight i16 lanes of sums of products a·b, a signed bytes, b bytes in 0..127 (the 7-bit
// operand): x86's pmaddubsw with relaxed SIMD (pairs of neighbouring bytes); in the plain
// build bytes j and j + 8 are paired instead, which gives other lanes but the same total,
// and the kernels only ever use the total of all eight lanes of a block.
@inline
export function dotI8(a: v128, b: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return i16x8.relaxed_dot_i8x16_i7x16_s(a, b);
  return i16x8.add(i16x8.extmul_low_i8x16_s(a, b), i16x8.extmul_high_i8x16_s(a, b));
}

// Bytes of one block of 32 quantized activations or unpacked nibbles
export const Q: usize = 32;

// Blocks per row rounded up to even: the product goes two blocks at a time, the padding
// block holding zeros (zero quants, zero scales, zero correction), which add +0.
@inline
export function paddedBlocks(K: i32): i32 {
  return ((K / QK) + 1) & ~1;
}

// ---- activations ------------------------------------------------------------------------
//
// The buffer xq for x [T, K], nb2 = paddedBlocks(K):
//
//   quants [T, nb2, 32] i8    at xq                 values 0..31 in order
//   scales [T, nb2, 2]  f32   at xq + 32·T·nb2      d_x twice (see accumulate)
//   corr   [T, nb2, 2]  i32   at xq + 40·T·nb2      8·Σq twice
//
// 48·T·nb2 bytes in all (promptActivationBytes).

export function promptActivationBytes(T: i32, K: i32): usize {
  return <usize>T * paddedBlocks(K) * (Q + 16);
}

// One block of 32 floats at x -> 32 i8 quants at q, d_x twice at scale, 8·Σq twice at corr
@inline
function quantizeBlock(q: usize, x: usize, scale: usize, corr: usize): void {
  const x0 = v128.load(x), x1 = v128.load(x, 16), x2 = v128.load(x, 32), x3 = v128.load(x, 48);
  const x4 = v128.load(x, 64), x5 = v128.load(x, 80), x6 = v128.load(x, 96), x7 = v128.load(x, 112);
  const d = absMax8(x0, x1, x2, x3, x4, x5, x6, x7) / 127;
  const inv = f32x4.splat(d > 0 ? 1 / d : 0);
  const q0 = roundToI32(x0, inv), q1 = roundToI32(x1, inv), q2 = roundToI32(x2, inv), q3 = roundToI32(x3, inv);
  const q4 = roundToI32(x4, inv), q5 = roundToI32(x5, inv), q6 = roundToI32(x6, inv), q7 = roundToI32(x7, inv);
  v128.store(q, i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(q0, q1), i16x8.narrow_i32x4_s(q2, q3))); // values 0..15
  v128.store(q, i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(q4, q5), i16x8.narrow_i32x4_s(q6, q7)), 16);
  const s = i32x4.add(i32x4.add(i32x4.add(q0, q1), i32x4.add(q2, q3)), i32x4.add(i32x4.add(q4, q5), i32x4.add(q6, q7)));
  const c = 8 * (i32x4.extract_lane(s, 0) + i32x4.extract_lane(s, 1) + i32x4.extract_lane(s, 2) + i32x4.extract_lane(s, 3));
  store<f32>(scale, d);
  store<f32>(scale, d, 4);
  store<i32>(corr, c);
  store<i32>(corr, c, 4);
}

// x [T, K] f32 (K % 32 == 0) -> xq (promptActivationBytes(T, K) bytes) for q4_0 weights
export function quantizePrompt(xq: usize, x: usize, T: i32, K: i32): void {
  const nb = K / QK;
  const nb2 = paddedBlocks(K);
  const scales = xq + <usize>T * nb2 * Q;
  const corrs = scales + <usize>T * nb2 * 8;
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < nb2; b++) {
      const i = <usize>t * nb2 + b;
      if (b < nb) {
        quantizeBlock(xq + i * Q, x + (<usize>t * nb + b) * (QK << 2), scales + (i << 3), corrs + (i << 3));
      } else {
        memory.fill(xq + i * Q, 0, Q);
        store<u64>(scales + (i << 3), 0);
        store<u64>(corrs + (i << 3), 0);
      }
    }
  }
}

// ---- the dot products ------------------------------------------------------------------------

// One block of rows u and v (nibbles lo, hi of each: values 0..15 and 16..31) against one
// token's block (i8 at xb): i16 lanes whose 32-bit pairs hold [u, v, u, v] partial sums.
// dotI8 gives eight i16 sums of two products each (|.| ≤ 2·15·127); the two halves of the
// block and then the two rows' lanes are added in i16 (|.| ≤ 4·2·15·127 = 15240).
@inline
export function halfSums(ul: v128, uh: v128, vl: v128, vh: v128, xb: usize): v128 {
  const xl = v128.load(xb), xh = v128.load(xb, 16);
  const pu = i16x8.add(dotI8(xl, ul), dotI8(xh, uh));
  const pv = i16x8.add(dotI8(xl, vl), dotI8(xh, vh));
  return i16x8.add(v128.shuffle<i32>(pu, pv, 0, 4, 1, 5), v128.shuffle<i32>(pu, pv, 2, 6, 3, 7));
}

// Blocks b, b+1 (halfSums of each) -> the four block totals [u_b, v_b, u_b+1, v_b+1] as i32:
// one more i16 add (|.| ≤ 30480 < 2^15) and one i32x4.dot_i16x8_s with ones to widen
@inline
export function blockTotals(h0: v128, h1: v128, ones: v128): v128 {
  return i32x4.dot_i16x8_s(i16x8.add(v128.shuffle<i32>(h0, h1, 0, 1, 4, 5), v128.shuffle<i32>(h0, h1, 2, 3, 6, 7)), ones);
}

// Block totals tot ([u_b, v_b, u_b+1, v_b+1]) of one token into its accumulator: the q4_0
// offset taken off (Σ(n − 8)·q = Σn·q − 8·Σq, corr at c), then times d_w·d_x (dw the
// weights' scales in the same lanes, d_x at s). Every output goes through these operations.
@inline
export function accumulate(acc: v128, tot: v128, dw: v128, s: usize, c: usize): v128 {
  return madd(f32x4.convert_i32x4_s(i32x4.sub(tot, v128.load(c))), f32x4.mul(dw, v128.load(s)), acc);
}

// Token t's outputs from its accumulator: out[t, nu] and out[t, nv]
@inline
export function storeRows(out: usize, N: i32, t: i32, nu: i32, nv: i32, acc: v128): void {
  const o = out + (<usize>t * N << 2);
  store<f32>(o + (<usize>nu << 2), f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 2));
  store<f32>(o + (<usize>nv << 2), f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 3));
}

// ---- the prompt GEMM ---------------------------------------------------------------------------
//
// Per thread, scratch for two unpacked rows u and v (promptScratchBytes):
//
//   u nibbles [nb2, 32] u8: values 0..15, then 16..31      at scratch
//   v nibbles [nb2, 32] u8                                 at scratch + 32·nb2
//   scales    [nb2, 2] f32: d_w of u, d_w of v, per block  at scratch + 64·nb2

export function promptScratchBytes(K: i32): usize {
  return <usize>paddedBlocks(K) * (2 * Q + 8);
}

// Row `row` of W (nb q4_0 blocks) into nibbles at dst and its scales at every other f32 from ds
function unpackRow(dst: usize, ds: usize, row: usize, nb: i32, nb2: i32): void {
  const low = i8x16.splat(0x0f);
  for (let b = 0; b < nb2; b++) {
    const q = dst + <usize>b * Q;
    if (b == nb) { // the padding block
      memory.fill(q, 0, Q);
      store<f32>(ds + (<usize>b << 3), 0);
      continue;
    }
    const block = row + <usize>b * Q4_0_BYTES;
    store<f32>(ds + (<usize>b << 3), halfToF32(<u32>load<u16>(block)));
    const packed = v128.load(block, 2); // byte j: value j (low nibble) and j + 16 (high)
    v128.store(q, v128.and(packed, low));
    v128.store(q, i8x16.shr_u(packed, 4), 16);
  }
}

// The unpacked rows u and v in scratch against tokens t0 ≤ t < t1: out[t, nu] and out[t, nv]
// (for a row alone, v = u and nv = nu: both lanes then hold the same sums). (Two tokens at a
// time, each weight load serving both, ran slower: V8 then runs out of the 16 xmm registers.)
function rowsTokens(out: usize, N: i32, nu: i32, nv: i32, u: usize, v: usize, ws: usize, xq: usize, xs: usize, xc: usize, t0: i32, t1: i32, nb2: i32): void {
  const ones = i16x8.splat(<i16>((N >>> 31) + 1)); // not a constant (V8 would rebuild it in the loop), nor 1 | (N >>> 31), which binaryen folds to 1
  const rowQ = <usize>nb2 * Q;
  const rowS = <usize>nb2 << 3; // bytes of a token's scales (and corrections): [nb2, 2]
  for (let t = t0; t < t1; t++) {
    const xt = xq + <usize>t * rowQ;
    const st = xs + <usize>t * rowS;
    const ct = xc + <usize>t * rowS;
    let acc = f32x4.splat(0); // u even blocks, v even, u odd, v odd
    for (let b = 0; b < nb2; b += 2) {
      const wq = <usize>b * Q;
      const off = <usize>b << 3;
      const u0 = u + wq, v0 = v + wq;
      const h0 = halfSums(v128.load(u0), v128.load(u0, 16), v128.load(v0), v128.load(v0, 16), xt + wq);
      const h1 = halfSums(v128.load(u0, 32), v128.load(u0, 48), v128.load(v0, 32), v128.load(v0, 48), xt + wq + Q);
      acc = accumulate(acc, blockTotals(h0, h1, ones), v128.load(ws + off), st + off, ct + off);
    }
    storeRows(out, N, t, nu, nv, acc);
  }
}

// Tokens per chunk: the chunk's activations (about 128 KB) stay in L2 while every row pair
// of the thread meets them; each chunk unpacks the rows again (a small cost next to the
// products: one pass over a row's bytes per chunk, against ~2·K multiply-adds per token).
const CHUNK_BYTES: i32 = 131072;

// out [T, N] f32, xq from quantizePrompt, w [N, K/32 q4_0 blocks]; rows n0 ≤ n < n1;
// scratch: this thread's promptScratchBytes(K) bytes
export function matmulQ4_0Prompt(out: usize, xq: usize, w: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32, scratch: usize): void {
  const nb = K / QK;
  const nb2 = paddedBlocks(K);
  const rowBytes = <usize>nb * Q4_0_BYTES;
  const xs = xq + <usize>T * nb2 * Q;
  const xc = xs + <usize>T * nb2 * 8;
  const u = scratch;
  const v = scratch + <usize>nb2 * Q;
  const ws = scratch + 2 * <usize>nb2 * Q;
  const chunk = max(4, CHUNK_BYTES / (nb2 * (<i32>Q + 16)));
  for (let t0 = 0; t0 < T; t0 += chunk) {
    const t1 = min(T, t0 + chunk);
    for (let n = n0; n < n1; n += 2) {
      const m = min(n + 1, n1 - 1); // n itself when it has no partner
      unpackRow(u, ws, w + <usize>n * rowBytes, nb, nb2);
      unpackRow(v, ws + 4, w + <usize>m * rowBytes, nb, nb2);
      rowsTokens(out, N, n, m, u, v, ws, xq, xs, xc, t0, t1, nb2);
    }
  }
}
