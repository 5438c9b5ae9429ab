// The row-wise kernels: RMSNorm, RoPE and SwiGLU. RMSNorm and RoPE are a sliver of the
// work next to the matmuls, so they follow the reference's f64 arithmetic (JavaScript
// numbers) step by step, in f64x2 lanes where that is free, and so agree with it to the
// last bit or two. SwiGLU is f32x4 with exp.ts's exponential: a scalar f64 Math.exp per
// hidden unit cost more than a decode step's feed-forward matmuls at small widths.
import { sigmoid1, sigmoid4 } from './exp';

// --- RMSNorm: out[t] = x[t] / sqrt(mean(x[t]²) + eps) ⊙ gain ------------------------------

// Σ x[c]² over a row of C floats, in f64 (each square is exact in f64)
function sumOfSquares(row: usize, C: i32): f64 {
  let acc = f64x2.splat(0);
  let c = 0;
  for (; c + 4 <= C; c += 4) {
    const v = v128.load(row + (<usize>c << 2));
    const lo = f64x2.promote_low_f32x4(v);
    const hi = f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1));
    acc = f64x2.add(acc, f64x2.add(f64x2.mul(lo, lo), f64x2.mul(hi, hi)));
  }
  let ss = f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
  for (; c < C; c++) {
    const v = <f64>load<f32>(row + (<usize>c << 2));
    ss += v * v;
  }
  return ss;
}

// out[c] = x[c] · inv · gain[c], computed in f64 and rounded once, like the reference
function scaleRow(out: usize, row: usize, gain: usize, C: i32, inv: f64): void {
  const invs = f64x2.splat(inv);
  let c = 0;
  for (; c + 2 <= C; c += 2) {
    const offset = <usize>c << 2;
    const x = f64x2.promote_low_f32x4(v128.load64_zero(row + offset));
    const g = f64x2.promote_low_f32x4(v128.load64_zero(gain + offset));
    v128.store64_lane(out + offset, f32x4.demote_f64x2_zero(f64x2.mul(f64x2.mul(x, invs), g)), 0);
  }
  if (c < C) {
    const offset = <usize>c << 2;
    store<f32>(out + offset, <f32>(<f64>load<f32>(row + offset) * inv * <f64>load<f32>(gain + offset)));
  }
}

// out, x: [T, C]; gain: [C]. out may be x.
export function rmsnorm(out: usize, x: usize, gain: usize, T: i32, C: i32, eps: f64): void {
  for (let t = 0; t < T; t++) {
    const offset = <usize>t * C * 4;
    const inv = 1 / Math.sqrt(sumOfSquares(x + offset, C) / C + eps);
    scaleRow(out + offset, x + offset, gain, C, inv);
  }
}

// --- RoPE on adjacent pairs (2i, 2i+1) --------------------------------------------------------
//
// A pair is one f64x2 (x0, x1); its rotation by φ is
//   (x0, x1)·(cos φ, cos φ) + (x1, x0)·(−sin φ, sin φ)
// which is the reference's x0 cos − x1 sin, x0 sin + x1 cos with the same roundings.

// x: [T, nHeads*hd] rotated in place; row t is at position pos0 + t; freqs: f64 [hd/2], the
// angle of pair i per position (θ^(-2i/hd) / factor_i: reference/rope.ts, RoPE scaling included)
export function rope(x: usize, T: i32, nHeads: i32, hd: i32, pos0: i32, freqs: usize): void {
  rotatePairs(x, T, nHeads, hd, pos0, freqs, 1);
}

// Rotates every pair by `direction`·φ: +1 is RoPE, −1 its backward (backward.ts). Multiplying
// sin by ±1 is exact, so both directions round as the reference does.
export function rotatePairs(x: usize, T: i32, nHeads: i32, hd: i32, pos0: i32, freqs: usize, direction: f64): void {
  const rowFloats = <usize>nHeads * hd;
  for (let i = 0; i < hd / 2; i++) {
    const frequency = load<f64>(freqs + (<usize>i << 3)); // f64 like the reference
    for (let t = 0; t < T; t++) {
      const angle = <f64>(pos0 + t) * frequency;
      const cos = f64x2.splat(Math.cos(angle));
      const sin = direction * Math.sin(angle);
      const signedSin = f64x2(-sin, sin);
      const row = x + <usize>t * rowFloats * 4;
      for (let h = 0; h < nHeads; h++) {
        const pair = row + ((<usize>h * hd + 2 * i) << 2);
        const v = f64x2.promote_low_f32x4(v128.load64_zero(pair));
        const swapped = v128.shuffle<f64>(v, v, 1, 0);
        const rotated = f64x2.add(f64x2.mul(v, cos), f64x2.mul(swapped, signedSin));
        v128.store64_lane(pair, f32x4.demote_f64x2_zero(rotated), 0);
      }
    }
  }
}

// --- SwiGLU: out[i] = silu(gate[i]) · up[i], silu(g) = g σ(g) = g / (1 + e^−g) -----------------
//
// In f32: σ from exp.ts (relative error a few units of the last place), then two products.

// out, gate, up: [n]; out may be gate or up (each element is read before it is written)
export function swiglu(out: usize, gate: usize, up: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const offset = <usize>i << 2;
    const g = v128.load(gate + offset);
    v128.store(out + offset, f32x4.mul(f32x4.mul(g, sigmoid4(g)), v128.load(up + offset)));
  }
  for (; i < n; i++) {
    const offset = <usize>i << 2;
    const g = load<f32>(gate + offset);
    store<f32>(out + offset, g * sigmoid1(g) * load<f32>(up + offset));
  }
}
