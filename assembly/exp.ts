// e^x in four f32 lanes, and the softmax and sigmoid built on it, for training.
//
// Training evaluates millions of exponentials a step (softmax of every attention score,
// silu of every hidden unit), and the scalar f64 Math.exp of the forward kernels cost more
// than the attention dot products. This is Cephes' expf in four lanes: e^x = 2^n · e^r with
// n = round(x / ln 2), r = x − n·ln 2 (ln 2 in two parts, so r is exact), e^r a degree-6
// polynomial; relative error below 2·2⁻²⁴ over the clamped range [−87.3, 88.7].
import { hsum, madd } from './simd';

// e^x, four lanes
@inline
export function exp4(x: v128): v128 {
  x = f32x4.min(f32x4.max(x, f32x4.splat(-87.3)), f32x4.splat(88.7));
  const n = f32x4.floor(madd(x, f32x4.splat(1.44269504088896341), f32x4.splat(0.5)));
  let r = f32x4.sub(x, f32x4.mul(n, f32x4.splat(0.693359375)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(-2.12194440e-4)));
  let y = madd(f32x4.splat(1.9875691500e-4), r, f32x4.splat(1.3981999507e-3));
  y = madd(y, r, f32x4.splat(8.3334519073e-3));
  y = madd(y, r, f32x4.splat(4.1665795894e-2));
  y = madd(y, r, f32x4.splat(1.6666665459e-1));
  y = madd(y, r, f32x4.splat(5.0000001201e-1));
  y = f32x4.add(madd(y, f32x4.mul(r, r), r), f32x4.splat(1));
  const scale = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(n), i32x4.splat(127)), 23); // 2^n
  return f32x4.mul(y, scale);
}

@inline
export function exp1(x: f32): f32 {
  return f32x4.extract_lane(exp4(f32x4.splat(x)), 0);
}

// x: [n] softmax in place, in f32: exp(x − max) / Σ
export function softmaxF32(x: usize, n: i32): void {
  let maxes = f32x4.splat(-Infinity);
  let i = 0;
  for (; i + 4 <= n; i += 4) maxes = f32x4.max(maxes, v128.load(x + (<usize>i << 2)));
  let top = max(max(f32x4.extract_lane(maxes, 0), f32x4.extract_lane(maxes, 1)), max(f32x4.extract_lane(maxes, 2), f32x4.extract_lane(maxes, 3)));
  for (; i < n; i++) top = max(top, load<f32>(x + (<usize>i << 2)));
  const tops = f32x4.splat(top);
  let sums = f32x4.splat(0);
  i = 0;
  for (; i + 4 <= n; i += 4) {
    const p = x + (<usize>i << 2);
    const e = exp4(f32x4.sub(v128.load(p), tops));
    v128.store(p, e);
    sums = f32x4.add(sums, e);
  }
  let sum = hsum(sums);
  for (; i < n; i++) {
    const p = x + (<usize>i << 2);
    const e = exp1(load<f32>(p) - top);
    store<f32>(p, e);
    sum += e;
  }
  const inv = f32x4.splat(1 / sum);
  i = 0;
  for (; i + 4 <= n; i += 4) {
    const p = x + (<usize>i << 2);
    v128.store(p, f32x4.mul(v128.load(p), inv));
  }
  for (; i < n; i++) {
    const p = x + (<usize>i << 2);
    store<f32>(p, load<f32>(p) * (1 / sum));
  }
}

// σ(g) = 1 / (1 + e^−g), four lanes (e^−g is clamped, so no lane divides by infinity)
@inline
export function sigmoid4(g: v128): v128 {
  return f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), exp4(f32x4.neg(g))));
}

@inline
export function sigmoid1(g: f32): f32 {
  return f32x4.extract_lane(sigmoid4(f32x4.splat(g)), 0);
}
