// Decoding (T < 4 tokens) on q4_0 weights with the 8-bit dot product of qgemm.ts, reading the
// GGUF blocks where they lie ([f16 d][16 bytes: nibble j low, j + 16 high]): out[T, N] =
// x[T, K] · Wᵀ, x quantized by quantizePrompt (qgemm.ts).
//
// Why: qmatmul.ts widens the nibbles to i16 lanes and takes four i32x4.dot_i16x8_s and three
// adds a block, about 21 operations per 32 weights in all; here a block of one row costs a
// load, three to split its nibbles (an and; a shift, which V8 makes two), two dotI8 (x86
// pmaddubsw with relaxed SIMD), an i16 add, and shares of the folding, the scales and the
// activation loads: about 14. A prompt's GEMM (qgemm.ts) unpacks each row into scratch once
// for many tokens; a single token would pay that store and reload for nothing.
//
// Every output goes through the operations of qgemm.ts's rowsTokens (the same integer block
// totals, the same d_w in f32, the same multiply-adds in the same order), so decoding a token
// gives the bits its row of a prompt gets, whatever T, the row's partner and the thread.
import { accumulate, blockTotals, halfSums, paddedBlocks, Q, storeRows } from './qgemm';
import { halvesToF32x4, Q4_0_BYTES, QK, streamRow, streamSteps } from './simd';

// d_w of rows u and v (blocks at bu, bv) for blocks b and b+1: [u_b, v_b, u_b+1, v_b+1] in f32;
// with `last` (b is the last block of an odd count) lanes 2 and 3 are 0, and nothing past
// the row is read
@inline
function scales2(bu: usize, bv: usize, last: bool): v128 {
  let h = v128.load16_lane(bu, i32x4.splat(0), 0); // i16 lanes 0, 2, 4, 6: the low halves of i32 lanes
  h = v128.load16_lane(bv, h, 2);
  if (!last) {
    h = v128.load16_lane(bu + Q4_0_BYTES, h, 4);
    h = v128.load16_lane(bv + Q4_0_BYTES, h, 6);
  }
  return halvesToF32x4(h);
}

// Blocks at bu and bv (rows u and v) against the token's block at xb: halfSums of the nibbles
@inline
function packedSums(bu: usize, bv: usize, xb: usize, low: v128): v128 {
  const pu = v128.load(bu, 2);
  const pv = v128.load(bv, 2);
  return halfSums(v128.and(pu, low), i8x16.shr_u(pu, 4), v128.and(pv, low), i8x16.shr_u(pv, 4), xb);
}

// Rows u and v (at wu, wv) against token t: out[t, nu], out[t, nv]
@inline
function rowPair(out: usize, N: i32, nu: i32, nv: i32, wu: usize, wv: usize, xt: usize, st: usize, ct: usize, t: i32, nb: i32, ones: v128, low: v128): void {
  let acc = f32x4.splat(0); // u even blocks, v even, u odd, v odd
  const fence = out + ((<usize>t * N + <usize>nu) << 2); // out[t, nu], written last: see below
  let b = 0;
  for (; b + 2 <= nb; b += 2) {
    const bu = wu + <usize>b * Q4_0_BYTES;
    const bv = wv + <usize>b * Q4_0_BYTES;
    const xb = xt + <usize>b * Q;
    const h0 = packedSums(bu, bv, xb, low);
    // A store between the two blocks: V8 emits a block's loads in program order ahead of the
    // arithmetic, so without it (and with V8 unrolling this loop twice) sixteen loaded vectors
    // were live at once and spilled (q6decode.ts's header; `npm run bench:disasm`)
    store<i32>(fence, i32x4.extract_lane(h0, 0));
    const h1 = packedSums(bu + Q4_0_BYTES, bv + Q4_0_BYTES, xb + Q, low);
    const off = <usize>b << 3;
    acc = accumulate(acc, blockTotals(h0, h1, ones), scales2(bu, bv, false), st + off, ct + off);
  }
  if (b < nb) { // the last of an odd count, against the zero padding block of the activations
    const bu = wu + <usize>b * Q4_0_BYTES;
    const bv = wv + <usize>b * Q4_0_BYTES;
    const h0 = packedSums(bu, bv, xt + <usize>b * Q, low);
    const off = <usize>b << 3;
    acc = accumulate(acc, blockTotals(h0, i16x8.splat(0), ones), scales2(bu, bv, true), st + off, ct + off);
  }
  storeRows(out, N, t, nu, nv, acc);
}

// out [T, N] f32, xq from quantizePrompt(T, K), w [N, K/32 q4_0 blocks]; rows n0 ≤ n < n1, as
// pairs from four streams a quarter of the range apart: streams far apart keep the hardware
// prefetcher ahead (simd.ts streamRow)
export function matmulQ4_0I8(out: usize, xq: usize, w: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32): void {
  const nb = K / QK;
  const nb2 = paddedBlocks(K);
  const rowBytes = <usize>nb * Q4_0_BYTES;
  const xs = xq + <usize>T * nb2 * Q; // scales [T, nb2, 2]
  const xc = xs + <usize>T * nb2 * 8; // corrections [T, nb2, 2]
  const ones = i16x8.splat(<i16>((N >>> 31) + 1)); // not constants: V8 would rebuild them in the loop (and 1 | (N >>> 31) binaryen folds to 1)
  const low = i8x16.splat(<i8>(0x0f | (N >>> 31)));
  const steps = streamSteps(n0, n1);
  for (let t = 0; t < T; t++) {
    const xt = xq + <usize>t * nb2 * Q;
    const st = xs + (<usize>t * nb2 << 3);
    const ct = xc + (<usize>t * nb2 << 3);
    for (let i = 0; i < steps; i += 2) { // pairs of rows from four streams (simd.ts)
      const n = streamRow(i, n0, n1);
      if (n >= n1) continue;
      const next = streamRow(i + 1, n0, n1);
      const m = next < n1 ? next : n; // its partner, or itself at the end of the range
      rowPair(out, N, n, m, w + <usize>n * rowBytes, w + <usize>m * rowBytes, xt, st, ct, t, nb, ones, low);
    }
  }
}
