// The kernels training adds to the forward ones: the backward passes of RMSNorm, RoPE and
// SwiGLU and an f32 SwiGLU here; the blocked matrix product behind every training matmul
// (gemm.ts, re-exported); attention as matrix products (attention-sequence.ts, re-exported).
// reference/*.ts holds the readable maths of each.
// Every gradient ACCUMULATES (+=), as the reference's; the caller zeroes it.
//
// Pointers are byte offsets into the shared linear memory; every buffer, scratch included,
// comes from the caller (no allocation in here). Dimension letters as in reference/:
// T rows, K input width, N output width, C model width, hd head dimension.
import { rotatePairs } from './elementwise';
import { sigmoid1, sigmoid4 } from './exp';
import { madd } from './simd';

export { gemmF32, transposeF32 } from './gemm';
export { softmaxF32 } from './exp';
export { attentionSequence, attentionSequenceBackward } from './attention-sequence';

// --- RMSNorm backward ----------------------------------------------------------------------------
//
//   r = (mean(x²) + eps)^(−1/2)
//   dx_i += r g_i dy_i − (r³ / C) · x_i · Σ_j dy_j g_j x_j
//   dg_i += dy_i x_i r
//
// The two row sums run in f64 (as the reference's); the updates in f32x4.

// Σ x[c]² over a row of C floats, in f64
function rowSquares(row: usize, C: i32): f64 {
  let acc = f64x2.splat(0);
  let c = 0;
  for (; c + 2 <= C; c += 2) {
    const v = f64x2.promote_low_f32x4(v128.load64_zero(row + (<usize>c << 2)));
    acc = f64x2.add(acc, f64x2.mul(v, v));
  }
  let ss = f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
  if (c < C) {
    const v = <f64>load<f32>(row + (<usize>c << 2));
    ss += v * v;
  }
  return ss;
}

// Σ_c a[c]·b[c]·d[c] over a row of C floats, each product and the sum in f64
function sumOfProducts3(a: usize, b: usize, d: usize, C: i32): f64 {
  let acc = f64x2.splat(0);
  let c = 0;
  for (; c + 2 <= C; c += 2) {
    const offset = <usize>c << 2;
    const va = f64x2.promote_low_f32x4(v128.load64_zero(a + offset));
    const vb = f64x2.promote_low_f32x4(v128.load64_zero(b + offset));
    const vd = f64x2.promote_low_f32x4(v128.load64_zero(d + offset));
    acc = f64x2.add(acc, f64x2.mul(f64x2.mul(va, vb), vd));
  }
  let sum = f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
  if (c < C) {
    const offset = <usize>c << 2;
    sum += <f64>load<f32>(a + offset) * <f64>load<f32>(b + offset) * <f64>load<f32>(d + offset);
  }
  return sum;
}

// dx, dout, x: [T, C]; dgain, gain: [C]
export function rmsnormBackward(dx: usize, dgain: usize, dout: usize, x: usize, gain: usize, T: i32, C: i32, eps: f64): void {
  for (let t = 0; t < T; t++) {
    const row = <usize>t * C * 4;
    const xr = x + row;
    const dyr = dout + row;
    const dxr = dx + row;
    const r = 1 / Math.sqrt(rowSquares(xr, C) / C + eps);
    const k = (r * r * r * sumOfProducts3(dyr, gain, xr, C)) / C;
    const rs = f32x4.splat(<f32>r);
    const ks = f32x4.splat(<f32>k);
    let c = 0;
    for (; c + 4 <= C; c += 4) {
      const offset = <usize>c << 2;
      const dy = v128.load(dyr + offset);
      const xv = v128.load(xr + offset);
      const g = v128.load(gain + offset);
      const update = f32x4.sub(f32x4.mul(f32x4.mul(rs, g), dy), f32x4.mul(ks, xv));
      v128.store(dxr + offset, f32x4.add(v128.load(dxr + offset), update));
      v128.store(dgain + offset, f32x4.add(v128.load(dgain + offset), f32x4.mul(f32x4.mul(dy, xv), rs)));
    }
    for (; c < C; c++) {
      const offset = <usize>c << 2;
      const dy = load<f32>(dyr + offset);
      const xv = load<f32>(xr + offset);
      const g = load<f32>(gain + offset);
      store<f32>(dxr + offset, load<f32>(dxr + offset) + (<f32>r * g * dy - <f32>k * xv));
      store<f32>(dgain + offset, load<f32>(dgain + offset) + dy * xv * <f32>r);
    }
  }
}

// --- RoPE backward: each pair rotated back by −φ, in place ----------------------------------------
//
//   (d0, d1) ← (d0 cos φ + d1 sin φ,  −d0 sin φ + d1 cos φ)
//            = (d0, d1)·(cos, cos) + (d1, d0)·(sin, −sin)        in f64, like the forward

// dx: [T, nHeads*hd]; row t is at position pos0 + t; freqs: f64 [hd/2] as rope's
export function ropeBackward(dx: usize, T: i32, nHeads: i32, hd: i32, pos0: i32, freqs: usize): void {
  rotatePairs(dx, T, nHeads, hd, pos0, freqs, -1);
}

// --- SwiGLU in f32: the forward kernel itself (elementwise.ts) -------------------------------

export { swiglu as swigluF32 } from './elementwise';

// --- SwiGLU backward ------------------------------------------------------------------------------
//
//   dgate += dout · up · σ(g)(1 + g(1 − σ(g)))        dup += dout · g σ(g)        (f32x4)

// dgate, dup, dout, gate, up: [n]
export function swigluBackward(dgate: usize, dup: usize, dout: usize, gate: usize, up: usize, n: i32): void {
  const one = f32x4.splat(1);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const offset = <usize>i << 2;
    const g = v128.load(gate + offset);
    const dy = v128.load(dout + offset);
    const sg = sigmoid4(g);
    const dsilu = f32x4.mul(sg, madd(g, f32x4.sub(one, sg), one));
    v128.store(dgate + offset, madd(f32x4.mul(dy, v128.load(up + offset)), dsilu, v128.load(dgate + offset)));
    v128.store(dup + offset, madd(dy, f32x4.mul(g, sg), v128.load(dup + offset)));
  }
  for (; i < n; i++) {
    const offset = <usize>i << 2;
    const g = load<f32>(gate + offset);
    const dy = load<f32>(dout + offset);
    const sg = sigmoid1(g);
    store<f32>(dgate + offset, load<f32>(dgate + offset) + dy * load<f32>(up + offset) * (sg * (1 + g * (1 - sg))));
    store<f32>(dup + offset, load<f32>(dup + offset) + dy * (g * sg));
  }
}
