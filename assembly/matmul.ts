// out[T, N] = x[T, K] · Wᵀ with W stored [N, K] dense: f32 or f16 (blocks.ts has q8_0 and
// q4_0 with f32 activations, qmatmul.ts with quantized ones, and both use these loops).
//
// All pointers are byte offsets into linear memory; x and out are f32. Only weight rows
// n0 ≤ n < n1 are computed, so that several workers can split one matmul by rows.
//
// Prompt processing (T > 1) goes in tiles of four tokens: each weight row is loaded once per
// tile and dotted with four rows of x, two rows at a time (eight add chains in flight), over
// blocks of rows that stay in L2 while every tile meets them. What is left over (T mod 4
// tokens, and all of decoding with T = 1) goes one token at a time, weight rows in pairs
// half the range apart (denseRows).
//
// Generic parameter W picks the storage: f32 (4 bytes) or u16 (IEEE half, f16 tensors).
// Each branch on it folds at compile time.
import { hsum, halfToF32, loadHalves, madd } from './simd';

// --- dense rows: f32 and f16 -----------------------------------------------------------------

// Weights k .. k+3 of a dense row starting at w, as f32x4
@inline
function load4<W>(w: usize, k: i32): v128 {
  if (sizeof<W>() == 4) return v128.load(w + (<usize>k << 2));
  return loadHalves(w + (<usize>k << 1));
}

// Weight k of a dense row starting at w
@inline
function load1<W>(w: usize, k: i32): f32 {
  if (sizeof<W>() == 4) return load<f32>(w + (<usize>k << 2));
  return halfToF32(<u32>load<u16>(w + (<usize>k << 1)));
}

// Σ_k x[k]·w[k] for one token row x [K] and one weight row w [K]: two f32x4 accumulators
// over steps of eight, a step of four, the horizontal sum, the scalar tail. (denseDot2 forms
// each of its two sums in exactly this way.)
export function denseDot1<W>(x: usize, w: usize, K: i32): f32 {
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let k = 0;
  for (; k + 8 <= K; k += 8) {
    const xk = x + (<usize>k << 2);
    a0 = madd(v128.load(xk), load4<W>(w, k), a0);
    a1 = madd(v128.load(xk, 16), load4<W>(w, k + 4), a1);
  }
  for (; k + 4 <= K; k += 4) a0 = madd(v128.load(x + (<usize>k << 2)), load4<W>(w, k), a0);
  let sum = hsum(f32x4.add(a0, a1));
  for (; k < K; k++) sum += load<f32>(x + (<usize>k << 2)) * load1<W>(w, k);
  return sum;
}

// denseDot1 of two weight rows u and v with one token row x, each row's sum formed exactly
// as denseDot1 forms it (so a row's value does not depend on its partner); the loads of x
// serve both rows. Stores the sums at out and outV.
function denseDot2<W>(out: usize, outV: usize, x: usize, u: usize, v: usize, K: i32): void {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0);
  let b0 = f32x4.splat(0), b1 = f32x4.splat(0);
  let k = 0;
  for (; k + 8 <= K; k += 8) {
    const xk = x + (<usize>k << 2);
    const x0 = v128.load(xk), x1 = v128.load(xk, 16);
    a0 = madd(x0, load4<W>(u, k), a0);
    b0 = madd(x0, load4<W>(v, k), b0);
    a1 = madd(x1, load4<W>(u, k + 4), a1);
    b1 = madd(x1, load4<W>(v, k + 4), b1);
  }
  for (; k + 4 <= K; k += 4) {
    const xk = v128.load(x + (<usize>k << 2));
    a0 = madd(xk, load4<W>(u, k), a0);
    b0 = madd(xk, load4<W>(v, k), b0);
  }
  let su = hsum(f32x4.add(a0, a1));
  let sv = hsum(f32x4.add(b0, b1));
  for (; k < K; k++) {
    const xk = load<f32>(x + (<usize>k << 2));
    su += xk * load1<W>(u, k);
    sv += xk * load1<W>(v, k);
  }
  store<f32>(out, su);
  store<f32>(outV, sv);
}

// Four token rows x, x+K, x+2K, x+3K against one weight row w; the four sums go to
// out, out+N, out+2N, out+3N (a column of the output tile).
export function denseDot4<W>(out: usize, N: i32, x: usize, w: usize, K: i32): void {
  const xStride = <usize>K << 2;
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let a2 = f32x4.splat(0);
  let a3 = f32x4.splat(0);
  let k = 0;
  for (; k + 4 <= K; k += 4) {
    const wk = load4<W>(w, k); // decoded once, used four times
    const xk = x + (<usize>k << 2);
    a0 = madd(v128.load(xk), wk, a0);
    a1 = madd(v128.load(xk + xStride), wk, a1);
    a2 = madd(v128.load(xk + 2 * xStride), wk, a2);
    a3 = madd(v128.load(xk + 3 * xStride), wk, a3);
  }
  let s0 = hsum(a0);
  let s1 = hsum(a1);
  let s2 = hsum(a2);
  let s3 = hsum(a3);
  for (; k < K; k++) {
    const wk = load1<W>(w, k);
    const xk = x + (<usize>k << 2);
    s0 += load<f32>(xk) * wk;
    s1 += load<f32>(xk + xStride) * wk;
    s2 += load<f32>(xk + 2 * xStride) * wk;
    s3 += load<f32>(xk + 3 * xStride) * wk;
  }
  const outStride = <usize>N << 2;
  store<f32>(out, s0);
  store<f32>(out + outStride, s1);
  store<f32>(out + 2 * outStride, s2);
  store<f32>(out + 3 * outStride, s3);
}

// denseDot4 for two weight rows u and v (outputs n and n+1 of the tile's column pair): each
// of the eight sums formed exactly as denseDot4 forms it, with eight independent add chains
// in flight instead of four, and each load of x serving both rows.
export function denseDot4x2<W>(out: usize, N: i32, x: usize, u: usize, v: usize, K: i32): void {
  const xStride = <usize>K << 2;
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  let b0 = f32x4.splat(0), b1 = f32x4.splat(0), b2 = f32x4.splat(0), b3 = f32x4.splat(0);
  let k = 0;
  for (; k + 4 <= K; k += 4) {
    const uk = load4<W>(u, k);
    const vk = load4<W>(v, k);
    const xk = x + (<usize>k << 2);
    const x0 = v128.load(xk);
    a0 = madd(x0, uk, a0);
    b0 = madd(x0, vk, b0);
    const x1 = v128.load(xk + xStride);
    a1 = madd(x1, uk, a1);
    b1 = madd(x1, vk, b1);
    const x2 = v128.load(xk + 2 * xStride);
    a2 = madd(x2, uk, a2);
    b2 = madd(x2, vk, b2);
    const x3 = v128.load(xk + 3 * xStride);
    a3 = madd(x3, uk, a3);
    b3 = madd(x3, vk, b3);
  }
  let s0 = hsum(a0), s1 = hsum(a1), s2 = hsum(a2), s3 = hsum(a3);
  let r0 = hsum(b0), r1 = hsum(b1), r2 = hsum(b2), r3 = hsum(b3);
  for (; k < K; k++) {
    const uk = load1<W>(u, k);
    const vk = load1<W>(v, k);
    const xk = x + (<usize>k << 2);
    const x0 = load<f32>(xk), x1 = load<f32>(xk + xStride), x2 = load<f32>(xk + 2 * xStride), x3 = load<f32>(xk + 3 * xStride);
    s0 += x0 * uk; s1 += x1 * uk; s2 += x2 * uk; s3 += x3 * uk;
    r0 += x0 * vk; r1 += x1 * vk; r2 += x2 * vk; r3 += x3 * vk;
  }
  const outStride = <usize>N << 2;
  store<f32>(out, s0);
  store<f32>(out + outStride, s1);
  store<f32>(out + 2 * outStride, s2);
  store<f32>(out + 3 * outStride, s3);
  store<f32>(out, r0, 4);
  store<f32>(out + outStride, r1, 4);
  store<f32>(out + 2 * outStride, r2, 4);
  store<f32>(out + 3 * outStride, r3, 4);
}

// One token row x [K] against dense weight rows n0 ≤ n < n1, into out [N]: as pairs of rows
// half the range apart. Decoding reads every weight once from memory, and two streams far
// apart keep the hardware prefetcher further ahead than one: on one x86 core an f32 matrix
// of 180 MB went from 17 to 24 GB/s read. A row's value does not depend on its partner.
export function denseRows<W>(out: usize, x: usize, w: usize, rowBytes: usize, K: i32, n0: i32, n1: i32): void {
  const half = (n1 - n0) >> 1;
  for (let n = n0; n < n0 + half; n++) {
    const m = n + half;
    denseDot2<W>(out + (<usize>n << 2), out + (<usize>m << 2), x, w + <usize>n * rowBytes, w + <usize>m * rowBytes, K);
  }
  if ((n1 - n0) & 1) store<f32>(out + (<usize>(n1 - 1) << 2), denseDot1<W>(x, w + <usize>(n1 - 1) * rowBytes, K));
}

// --- the matmul: tiles of 4 tokens over blocks of rows, then single tokens -----------------------

// out: [T, N], x: [T, K], w: [N, K] f32 or f16 (u16)
function matmulRows<W>(out: usize, x: usize, w: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32): void {
  const rowBytes = <usize>K * sizeof<W>();
  const tiled = T & ~3; // tokens in whole tiles of four
  // Rows in blocks of about 64 KB, each block meeting every tile while it is in L2: a weight
  // matrix larger than the caches is then read from memory once, not once per tile.
  const blockRows = max(2, <i32>(<usize>BLOCK_BYTES / rowBytes) & ~1);
  for (let r0 = n0; r0 < n1; r0 += blockRows) {
    const r1 = min(n1, r0 + blockRows);
    for (let t = 0; t < tiled; t += 4) tileRows<W>(out, x, w + <usize>r0 * rowBytes, rowBytes, t, K, N, r0, r1);
  }
  for (let t = tiled; t < T; t++) denseRows<W>(out + <usize>t * N * 4, x + <usize>t * K * 4, w, rowBytes, K, n0, n1);
}

// Bytes of weight rows a block holds (blocks.ts decodes quantized rows into such a block)
export const BLOCK_BYTES: i32 = 65536;

// Tokens t .. t+3 against weight rows r0 ≤ n < r1, row r0 at w and the others rowBytes apart:
// two at a time (denseDot4x2), then one (denseDot4, the same sums)
@inline
export function tileRows<W>(out: usize, x: usize, w: usize, rowBytes: usize, t: i32, K: i32, N: i32, r0: i32, r1: i32): void {
  const xt = x + <usize>t * K * 4;
  let n = r0;
  for (; n + 2 <= r1; n += 2) denseDot4x2<W>(out + (<usize>t * N + n) * 4, N, xt, w + <usize>(n - r0) * rowBytes, w + <usize>(n + 1 - r0) * rowBytes, K);
  if (n < r1) denseDot4<W>(out + (<usize>t * N + n) * 4, N, xt, w + <usize>(n - r0) * rowBytes, K);
}

// --- exports, one per storage type ----------------------------------------------------------

export function matmulF32(out: usize, x: usize, w: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32): void {
  matmulRows<f32>(out, x, w, T, K, N, n0, n1);
}

export function matmulF16(out: usize, x: usize, w: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32): void {
  matmulRows<u16>(out, x, w, T, K, N, n0, n1);
}
