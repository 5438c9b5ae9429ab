// Prompts (T ≥ 4 tokens) on K-quant weights (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K) as an integer
// GEMM: out[T, N] = x[T, K] · Wᵀ with the activations quantized once per call, by
// super-blocks of 256 with one scale each as llama.cpp's Q8_K (quantizeActivations'
// SUPER16_LAYOUT: the sums by sixteen), and each weight row unpacked once per call into a
// layout made for the product (kblocks.ts unpackRowK: the quants as bytes 0..63, every
// group of sixteen's integer scale spread over eight i16 lanes, its offset, two f32
// factors), then dotted with every token.
//
// One super-block of one row against one token, with n the unpacked quants, q_x the
// activations' quants, d_x their scale and s_j = Σ q_x over group j:
//
//   Σ w·x = d_x · (dA · Σ_j sc_j · Σ_{i∈j} n_i·q_x,i  +  dB · Σ_j o_j · s_j)
//
// The first sum costs per group of sixteen one 8-bit dot product (relaxed SIMD's
// i16x8.relaxed_dot_i8x16_i7x16_s, x86 pmaddubsw: n ≤ 63 is the 7-bit operand) and one
// i32x4.dot_i16x8_s against the spread scale (pmaddwd), added into an i32 vector; the second
// two pmaddwd a super-block. Every type meets the same loop: Q4_K and Q5_K repeat their
// scale of 32 over both groups of sixteen, and their mins are the offsets.
//
// Why: the f32 route (kblocks.ts matmulDecoded: rows decoded to f32, then matmul.ts's
// tiles) costs about 0.42 operations per multiply-add; here four tokens share each weight
// and scale load: per group 4 activation loads, 2 weight and scale loads, 4 dotI8, 4
// pmaddwd and 4 adds, 18 for 64 multiply-adds, plus the factors once per super-block.
// Measured 1.15-1.45× the f32 route (one thread), 1.25-1.31× on 110M prompts end to end.
//
// Bounds: a dotI8 lane is at most 2·63·127 = 16002 (no saturation), a pmaddwd lane
// 2·16002·128 (|sc| ≤ 128: Q6_K's signed 8-bit scales), and sixteen of them 65.5M < 2^31.
// The offsets: |o| ≤ 128, |s_j| ≤ 16·127.
//
// Numerics: the integer sums are exact; each super-block's two are converted to f32 and
// multiplied into the four-lane f32 accumulator by dA·d_x and dB·d_x; the lanes are summed
// pairwise at the end. A token's outputs take the same operations whatever the other tokens
// of its group of four, its thread and T (≥ 4); decoding (T < 4) runs other kernels (kdot256.ts,
// q6decode.ts, k16dot.ts), which round the activations by 32 for Q2_K/Q3_K/Q6_K, so a
// prompt's last row and a decoded token may differ in the last bits.
//
// The plain SIMD build compiles and tests this too (qgemm.ts dotI8's stand-in pairs other
// bytes, all within one group of sixteen), but its backend keeps the f32 route, faster there.
import { superScalesAt, superSumsAt } from './activations';
import { typeBlockBytes, unpackRowK, UNPACKED_BYTES, UNPACKED_D, UNPACKED_OFFSETS, UNPACKED_SCALES } from './kblocks';
import { dotI8 } from './qgemm';
import { hsum, madd } from './simd';

// Bytes of the activations' sums of one super-block (sixteen i16)
const SUMS_BYTES: usize = 32;

// Unpacked rows per block: about 16 KB, so that the block and two tokens' activations stay in L1
@inline
function blockRows(K: i32): i32 {
  return max(1, 16384 / ((K >> 8) * <i32>UNPACKED_BYTES));
}

// Scratch a thread needs for rows of K values
export function kPromptScratchBytes(K: i32): usize {
  return <usize>blockRows(K) * (K >> 8) * UNPACKED_BYTES;
}

// One group of sixteen of one weight row (quants w, spread scale c) against one token's x
@inline
function group(a: v128, x: v128, w: v128, c: v128): v128 {
  return i32x4.add(a, i32x4.dot_i16x8_s(dotI8(x, w), c));
}

// Super-block sb of token t (its index i = t·nsb + sb): the offsets' sum and the f32 step
@inline
function finish(f: v128, a: v128, rs: usize, o0: v128, o1: v128, xs: usize, xsum: usize, i: usize): v128 {
  const sums = xsum + i * SUMS_BYTES;
  const b = i32x4.add(i32x4.dot_i16x8_s(o0, v128.load(sums)), i32x4.dot_i16x8_s(o1, v128.load(sums, 16)));
  const dx = load<f32>(xs + (i << 2));
  f = madd(f32x4.convert_i32x4_s(a), f32x4.splat(load<f32>(rs + UNPACKED_D) * dx), f);
  return madd(f32x4.convert_i32x4_s(b), f32x4.splat(load<f32>(rs + UNPACKED_D, 4) * dx), f);
}

// The unpacked row r against tokens t .. t+3 (tokens past T − 1 repeat it): out[t.., n].
// xq, xs, xsum: the activations' quants, scales and sums (SUPER16_LAYOUT); nsb super-blocks a
// row. Four tokens share each weight and scale load: per group of sixteen 4 + 2 loads, 4
// dotI8, 4 pmaddwd and 4 adds, with 12 of the 16 xmm registers live at most.
function rowTokens4(out: usize, N: i32, n: i32, r: usize, xq: usize, xs: usize, xsum: usize, t: i32, T: i32, nsb: i32): void {
  const t1 = min(t + 1, T - 1), t2 = min(t + 2, T - 1), t3 = min(t + 3, T - 1);
  let f0 = f32x4.splat(0), f1 = f32x4.splat(0), f2 = f32x4.splat(0), f3 = f32x4.splat(0);
  for (let s = 0; s < nsb; s++) {
    const rs = r + <usize>s * UNPACKED_BYTES;
    const i0 = <usize>t * nsb + s; // super-block index of each token
    const i1 = <usize>t1 * nsb + s;
    const i2 = <usize>t2 * nsb + s;
    const i3 = <usize>t3 * nsb + s;
    let a0 = i32x4.splat(0), a1 = i32x4.splat(0), a2 = i32x4.splat(0), a3 = i32x4.splat(0);
    let x0 = xq + (i0 << 8), x1 = xq + (i1 << 8), x2 = xq + (i2 << 8), x3 = xq + (i3 << 8);
    // two groups of sixteen an iteration, each pointer moved once: the loads take immediate offsets
    for (let w = rs, end = rs + 256; w < end; w += 32) {
      let q = v128.load(w);
      let c = v128.load(w, UNPACKED_SCALES);
      a0 = group(a0, v128.load(x0), q, c);
      a1 = group(a1, v128.load(x1), q, c);
      a2 = group(a2, v128.load(x2), q, c);
      a3 = group(a3, v128.load(x3), q, c);
      q = v128.load(w, 16);
      c = v128.load(w, UNPACKED_SCALES + 16);
      a0 = group(a0, v128.load(x0, 16), q, c);
      a1 = group(a1, v128.load(x1, 16), q, c);
      a2 = group(a2, v128.load(x2, 16), q, c);
      a3 = group(a3, v128.load(x3, 16), q, c);
      x0 += 32;
      x1 += 32;
      x2 += 32;
      x3 += 32;
    }
    const o0 = v128.load(rs + UNPACKED_OFFSETS);
    const o1 = v128.load(rs + UNPACKED_OFFSETS + 16);
    f0 = finish(f0, a0, rs, o0, o1, xs, xsum, i0);
    f1 = finish(f1, a1, rs, o0, o1, xs, xsum, i1);
    f2 = finish(f2, a2, rs, o0, o1, xs, xsum, i2);
    f3 = finish(f3, a3, rs, o0, o1, xs, xsum, i3);
  }
  store<f32>(out + ((<usize>t * N + n) << 2), hsum(f0));
  store<f32>(out + ((<usize>t1 * N + n) << 2), hsum(f1));
  store<f32>(out + ((<usize>t2 * N + n) << 2), hsum(f2));
  store<f32>(out + ((<usize>t3 * N + n) << 2), hsum(f3));
}

// out [T, N] f32, xq from quantizeActivations(SUPER16_LAYOUT), w [N, K/256 super-blocks] of
// `type` (kblocks.ts codes Q2_K..Q6_K); rows n0 ≤ n < n1; scratch: this thread's
// kPromptScratchBytes(K) bytes
export function matmulKPrompt(type: i32, out: usize, xq: usize, w: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32, scratch: usize): void {
  const nsb = K >> 8;
  const rowBytes = <usize>nsb * typeBlockBytes(type);
  const unpackedRow = <usize>nsb * UNPACKED_BYTES;
  const xs = superScalesAt(xq, T, nsb);
  const xsum = superSumsAt(xq, T, nsb);
  const rows = blockRows(K);
  for (let r0 = n0; r0 < n1; r0 += rows) {
    const r1 = min(n1, r0 + rows);
    for (let n = r0; n < r1; n++) unpackRowK(type, scratch + <usize>(n - r0) * unpackedRow, w + <usize>n * rowBytes, K);
    for (let t = 0; t < T; t += 4) {
      for (let n = r0; n < r1; n++) rowTokens4(out, N, n, scratch + <usize>(n - r0) * unpackedRow, xq, xs, xsum, t, T, nsb);
    }
  }
}
