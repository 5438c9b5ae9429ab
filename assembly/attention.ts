// Causal self-attention over the KV cache with grouped key/value heads:
//
//   out_h(t) = Σ_{s ≤ pos0+t} softmax_s(q_h(t) · k_g(s) / √hd) v_g(s),   g = ⌊h / (nHeads/nKvHeads)⌋
//
// The dot products and the weighted sum of values run along the head dimension in f32x4
// (hd is even but need not be a multiple of 4: a two-float tail). The softmax is f32x4
// too (exp.ts): in f64 with Math.exp it cost as much as the dot products.
import { softmaxF32 } from './exp';
import { hsum, madd } from './simd';

// x: [n] softmax in place, in f32 with exp.ts's f32x4 exponential
export { softmaxF32 as softmax } from './exp';

// q · k over hd floats: four accumulators over steps of 16 (four independent add chains),
// then steps of 4, then a tail
@inline
function dotHead(q: usize, k: usize, hd: i32): f32 {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  let i = 0;
  for (; i + 16 <= hd; i += 16) {
    const o = <usize>i << 2;
    a0 = madd(v128.load(q + o), v128.load(k + o), a0);
    a1 = madd(v128.load(q + o, 16), v128.load(k + o, 16), a1);
    a2 = madd(v128.load(q + o, 32), v128.load(k + o, 32), a2);
    a3 = madd(v128.load(q + o, 48), v128.load(k + o, 48), a3);
  }
  for (; i + 4 <= hd; i += 4) a0 = madd(v128.load(q + (<usize>i << 2)), v128.load(k + (<usize>i << 2)), a0);
  let sum = hsum(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)));
  for (; i < hd; i++) sum += load<f32>(q + (<usize>i << 2)) * load<f32>(k + (<usize>i << 2));
  return sum;
}

// out[0..hd) += p · v[0..hd)
@inline
function addScaled(out: usize, p: f32, v: usize, hd: i32): void {
  const ps = f32x4.splat(p);
  let i = 0;
  for (; i + 4 <= hd; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, madd(ps, v128.load(v + o), v128.load(out + o)));
  }
  for (; i < hd; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(out + o) + p * load<f32>(v + o));
  }
}

// out, q: [T, nHeads*hd]; kCache, vCache: [S, nKvHeads*hd] with rows 0 .. pos0+T-1 filled;
// scores: scratch [nHeads, pos0+T]. out must not overlap q or the caches.
export function attention(
  out: usize, q: usize, kCache: usize, vCache: usize, scores: usize,
  T: i32, pos0: i32, nHeads: i32, nKvHeads: i32, hd: i32,
): void {
  attentionHeads(out, q, kCache, vCache, scores, T, pos0, nHeads, nKvHeads, hd, 0, nHeads);
}

// The same for query heads h0 ≤ h < h1 only (scores: scratch [h1 − h0, pos0+T]): threads
// split attention by heads, each with its own scores scratch, and every head is computed by
// this one code path.
//
// The cache is read a row at a time, every head of the slice from it, for the scores and
// again for the weighted sum of values: a long cache then streams from memory in order.
// Going a head at a time read each row's head slice with a stride of a whole row (16 KB
// for LLaMA-7B), a new page per row, which the hardware prefetcher does not follow: a
// decode step over 1024 positions of 32 heads of 128 took 3.9 ms, now 2.4.
export function attentionHeads(
  out: usize, q: usize, kCache: usize, vCache: usize, scores: usize,
  T: i32, pos0: i32, nHeads: i32, nKvHeads: i32, hd: i32, h0: i32, h1: i32,
): void {
  const qStride = <usize>nHeads * hd * 4; // bytes per token row of q and out
  const kvStride = <usize>nKvHeads * hd * 4; // bytes per cache row
  const headBytes = <usize>hd * 4;
  const group = nHeads / nKvHeads; // query heads per kv head
  const scale = <f32>(1 / Math.sqrt(<f64>hd));
  for (let t = 0; t < T; t++) {
    const visible = pos0 + t + 1; // causal: positions 0 .. pos0+t
    const rowBytes = <usize>visible << 2; // of one head's scores
    const qt = q + <usize>t * qStride;
    const ot = out + <usize>t * qStride;
    // scores[h − h0][s] = scale · q_h · k_s
    for (let s = 0; s < visible; s++) {
      const k = kCache + <usize>s * kvStride;
      for (let h = h0; h < h1; h++) {
        const dot = dotHead(qt + <usize>h * headBytes, k + <usize>(h / group) * headBytes, hd);
        store<f32>(scores + <usize>(h - h0) * rowBytes + (<usize>s << 2), dot * scale);
      }
    }
    for (let h = h0; h < h1; h++) softmaxF32(scores + <usize>(h - h0) * rowBytes, visible);
    // out_h = Σ_s p_h[s] · v_s
    memory.fill(ot + <usize>h0 * headBytes, 0, <usize>(h1 - h0) * headBytes);
    for (let s = 0; s < visible; s++) {
      const v = vCache + <usize>s * kvStride;
      for (let h = h0; h < h1; h++) {
        const p = load<f32>(scores + <usize>(h - h0) * rowBytes + (<usize>s << 2));
        addScaled(ot + <usize>h * headBytes, p, v + <usize>(h / group) * headBytes, hd);
      }
    }
  }
}
