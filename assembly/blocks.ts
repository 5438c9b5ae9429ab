// out[T, N] = x[T, K] · Wᵀ for q8_0 and q4_0 weights W [N, K/32 blocks] with f32
// activations: the reference's arithmetic, on the weights as readRow decodes them.
//
//   q8_0: [f16 d][32 × int8]                      value = d·q
//   q4_0: [f16 d][16 bytes: lo nibble j, hi nibble j+16]   value = d·(nibble − 8)
//
// Decoding (T < 4) dots each block, decoded to eight f32x4, with x. A prompt (T ≥ 4) first
// decodes a block of rows (about 64 KB of floats) into `scratch` and then multiplies it with
// every tile of four tokens through the dense f32 loops of matmul.ts: the decode is paid once
// per row for the whole prompt, and the products run at the dense kernels' rate (with
// relaxed SIMD's fused multiply-add, faster than the integer kernels of qmatmul.ts).
//
// Every d·q is exact in f32 (an 11-bit scale times an integer below 2^8), so both paths
// multiply x by the very floats the reference does. Rows are whole blocks (K % 32 == 0).
import { BLOCK_BYTES, denseDot1, tileRows } from './matmul';
import { blockBytes, blockScale, hsum, i8Quarter0, i8Quarter1, i8Quarter2, i8Quarter3, madd, q4High, q4Low, QK } from './simd';

// Values 0..15 of a block as sixteen signed bytes
@inline
function blockLow<W>(block: usize): v128 {
  if (isSigned<W>()) return v128.load(block, 2);
  return q4Low(block);
}

// Values 16..31 of a block as sixteen signed bytes
@inline
function blockHigh<W>(block: usize): v128 {
  if (isSigned<W>()) return v128.load(block, 18);
  return q4High(block);
}

// Σ_k x[k]·w[k] for one token row x [K] and one quantized weight row w (K/32 blocks)
function blockDot1<W>(x: usize, w: usize, K: i32): f32 {
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let a2 = f32x4.splat(0);
  let a3 = f32x4.splat(0);
  const nBlocks = K / QK;
  for (let b = 0; b < nBlocks; b++) {
    const block = w + <usize>b * blockBytes<W>();
    const xb = x + (<usize>b * QK << 2);
    const d = f32x4.splat(blockScale(block));
    const lo = blockLow<W>(block);
    const hi = blockHigh<W>(block);
    a0 = madd(f32x4.mul(d, i8Quarter0(lo)), v128.load(xb), a0);
    a1 = madd(f32x4.mul(d, i8Quarter1(lo)), v128.load(xb, 16), a1);
    a2 = madd(f32x4.mul(d, i8Quarter2(lo)), v128.load(xb, 32), a2);
    a3 = madd(f32x4.mul(d, i8Quarter3(lo)), v128.load(xb, 48), a3);
    a0 = madd(f32x4.mul(d, i8Quarter0(hi)), v128.load(xb, 64), a0);
    a1 = madd(f32x4.mul(d, i8Quarter1(hi)), v128.load(xb, 80), a1);
    a2 = madd(f32x4.mul(d, i8Quarter2(hi)), v128.load(xb, 96), a2);
    a3 = madd(f32x4.mul(d, i8Quarter3(hi)), v128.load(xb, 112), a3);
  }
  return hsum(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)));
}

// Rows r0 ≤ n < r1 of w decoded to floats: dst [r1 − r0, K] f32
function decodeRows<W>(dst: usize, w: usize, rowBytes: usize, K: i32, r0: i32, r1: i32): void {
  const nb = K / QK;
  for (let n = r0; n < r1; n++) {
    const row = w + <usize>n * rowBytes;
    const out = dst + <usize>(n - r0) * K * 4;
    for (let b = 0; b < nb; b++) {
      const block = row + <usize>b * blockBytes<W>();
      const d = f32x4.splat(blockScale(block));
      const lo = blockLow<W>(block);
      const hi = blockHigh<W>(block);
      const o = out + (<usize>b * QK << 2);
      v128.store(o, f32x4.mul(d, i8Quarter0(lo)));
      v128.store(o, f32x4.mul(d, i8Quarter1(lo)), 16);
      v128.store(o, f32x4.mul(d, i8Quarter2(lo)), 32);
      v128.store(o, f32x4.mul(d, i8Quarter3(lo)), 48);
      v128.store(o, f32x4.mul(d, i8Quarter0(hi)), 64);
      v128.store(o, f32x4.mul(d, i8Quarter1(hi)), 80);
      v128.store(o, f32x4.mul(d, i8Quarter2(hi)), 96);
      v128.store(o, f32x4.mul(d, i8Quarter3(hi)), 112);
    }
  }
}

// Bytes of scratch a prompt needs per thread: one block of decoded rows, at least two rows.
export function blockScratchBytes(K: i32): usize {
  return max(<usize>BLOCK_BYTES, <usize>K * 8);
}

// out: [T, N], x: [T, K] f32, w: [N, K/32 blocks]; rows n0 ≤ n < n1. scratch: this thread's
// blockScratchBytes(K) bytes (T ≥ 4 only).
function matmulBlocks<W>(out: usize, x: usize, w: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32, scratch: usize): void {
  const rowBytes = <usize>(K / QK) * blockBytes<W>();
  if (T < 4) {
    for (let t = 0; t < T; t++) {
      const xt = x + <usize>t * K * 4;
      for (let n = n0; n < n1; n++) store<f32>(out + (<usize>t * N + n) * 4, blockDot1<W>(xt, w + <usize>n * rowBytes, K));
    }
    return;
  }
  const floatRow = <usize>K * 4;
  const blockRows = max(2, <i32>(blockScratchBytes(K) / floatRow) & ~1);
  const tiled = T & ~3;
  for (let r0 = n0; r0 < n1; r0 += blockRows) {
    const r1 = min(n1, r0 + blockRows);
    decodeRows<W>(scratch, w, rowBytes, K, r0, r1);
    for (let t = 0; t < tiled; t += 4) tileRows<f32>(out, x, scratch, floatRow, t, K, N, r0, r1);
    for (let t = tiled; t < T; t++) {
      const xt = x + <usize>t * K * 4;
      for (let n = r0; n < r1; n++) store<f32>(out + (<usize>t * N + n) * 4, denseDot1<f32>(xt, scratch + <usize>(n - r0) * floatRow, K));
    }
  }
}

export function matmulQ8_0(out: usize, x: usize, w: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32, scratch: usize): void {
  matmulBlocks<i8>(out, x, w, T, K, N, n0, n1, scratch);
}

export function matmulQ4_0(out: usize, x: usize, w: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32, scratch: usize): void {
  matmulBlocks<u8>(out, x, w, T, K, N, n0, n1, scratch);
}
