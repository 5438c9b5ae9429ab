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

// scores[s] = scale · (q · k_s) for the `visible` key rows k_s = kHead + s·kvStride. Four
// keys at a time: each load of q serves four dot products, which run as four independent
// add chains (one chain of one key at a time was latency-bound at ~2.5 GMAC/s); their four
// lane sums are then folded into one vector, lane j for key j, scaled and stored at once.
function scoreRows(scores: usize, q: usize, kHead: usize, visible: i32, kvStride: usize, hd: i32, scale: f32): void {
  const scales = f32x4.splat(scale);
  const hd4 = hd & ~3;
  let s = 0;
  for (; s + 4 <= visible; s += 4) {
    const k0 = kHead + <usize>s * kvStride;
    const k1 = k0 + kvStride;
    const k2 = k1 + kvStride;
    const k3 = k2 + kvStride;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    for (let i = 0; i < hd4; i += 4) {
      const offset = <usize>i << 2;
      const qi = v128.load(q + offset);
      a0 = madd(qi, v128.load(k0 + offset), a0);
      a1 = madd(qi, v128.load(k1 + offset), a1);
      a2 = madd(qi, v128.load(k2 + offset), a2);
      a3 = madd(qi, v128.load(k3 + offset), a3);
    }
    // [a0, a1, a2, a3] lane sums -> one vector: lane j = Σ lanes of a_j
    const lo = f32x4.add(v128.shuffle<f32>(a0, a1, 0, 4, 1, 5), v128.shuffle<f32>(a0, a1, 2, 6, 3, 7));
    const hi = f32x4.add(v128.shuffle<f32>(a2, a3, 0, 4, 1, 5), v128.shuffle<f32>(a2, a3, 2, 6, 3, 7));
    let dots = f32x4.add(v128.shuffle<f32>(lo, hi, 0, 1, 4, 5), v128.shuffle<f32>(lo, hi, 2, 3, 6, 7));
    for (let i = hd4; i < hd; i++) { // the 2-float tail of an hd that is not a multiple of 4
      const offset = <usize>i << 2;
      const qi = f32x4.splat(load<f32>(q + offset));
      const ki = f32x4(load<f32>(k0 + offset), load<f32>(k1 + offset), load<f32>(k2 + offset), load<f32>(k3 + offset));
      dots = madd(qi, ki, dots);
    }
    v128.store(scores + (<usize>s << 2), f32x4.mul(dots, scales));
  }
  for (; s < visible; s++) {
    const k = kHead + <usize>s * kvStride;
    let a = f32x4.splat(0);
    for (let i = 0; i < hd4; i += 4) a = madd(v128.load(q + (<usize>i << 2)), v128.load(k + (<usize>i << 2)), a);
    let dot = hsum(a);
    for (let i = hd4; i < hd; i++) dot += load<f32>(q + (<usize>i << 2)) * load<f32>(k + (<usize>i << 2));
    store<f32>(scores + (<usize>s << 2), dot * scale);
  }
}

// out[0..hd) = Σ_s p[s] · v_s[0..hd) over `visible` rows v_s = vHead + s·kvStride, held in
// registers a slice at a time (16 floats, then 4, then a 2-float tail), so that out is
// written once instead of loaded and stored per row. Per element the sum runs s = 0, 1, …
// as a running out += p·v would.
function weightedSum(out: usize, p: usize, vHead: usize, visible: i32, kvStride: usize, hd: i32): void {
  let i = 0;
  for (; i + 16 <= hd; i += 16) {
    const offset = <usize>i << 2;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    for (let s = 0; s < visible; s++) {
      const ps = v128.load32_splat(p + (<usize>s << 2));
      const v = vHead + <usize>s * kvStride + offset;
      a0 = madd(ps, v128.load(v), a0);
      a1 = madd(ps, v128.load(v, 16), a1);
      a2 = madd(ps, v128.load(v, 32), a2);
      a3 = madd(ps, v128.load(v, 48), a3);
    }
    v128.store(out + offset, a0);
    v128.store(out + offset, a1, 16);
    v128.store(out + offset, a2, 32);
    v128.store(out + offset, a3, 48);
  }
  for (; i + 4 <= hd; i += 4) {
    const offset = <usize>i << 2;
    let a = f32x4.splat(0);
    for (let s = 0; s < visible; s++) {
      a = madd(v128.load32_splat(p + (<usize>s << 2)), v128.load(vHead + <usize>s * kvStride + offset), a);
    }
    v128.store(out + offset, a);
  }
  for (; i < hd; i++) {
    const offset = <usize>i << 2;
    let a: f32 = 0;
    for (let s = 0; s < visible; s++) a += load<f32>(p + (<usize>s << 2)) * load<f32>(vHead + <usize>s * kvStride + offset);
    store<f32>(out + offset, a);
  }
}

// One query head q [hd] against cache rows 0..visible-1 of one kv head; writes out [hd].
// kHead, vHead point at row 0's slice of that kv head; rows are kvStride bytes apart.
function attendHead(
  out: usize, q: usize, kHead: usize, vHead: usize, scores: usize,
  visible: i32, kvStride: usize, hd: i32, scale: f32,
): void {
  scoreRows(scores, q, kHead, visible, kvStride, hd, scale);
  softmaxF32(scores, visible);
  weightedSum(out, scores, vHead, visible, kvStride, hd);
}

// out, q: [T, nHeads*hd]; kCache, vCache: [S, nKvHeads*hd] with rows 0 .. pos0+T-1 filled;
// scores: scratch [pos0+T]. out must not overlap q or the caches.
export function attention(
  out: usize, q: usize, kCache: usize, vCache: usize, scores: usize,
  T: i32, pos0: i32, nHeads: i32, nKvHeads: i32, hd: i32,
): void {
  attentionHeads(out, q, kCache, vCache, scores, T, pos0, nHeads, nKvHeads, hd, 0, nHeads);
}

// The same for query heads h0 ≤ h < h1 only: threads split attention by heads, each with
// its own scores scratch, and every head is computed by this one code path.
export function attentionHeads(
  out: usize, q: usize, kCache: usize, vCache: usize, scores: usize,
  T: i32, pos0: i32, nHeads: i32, nKvHeads: i32, hd: i32, h0: i32, h1: i32,
): void {
  const qStride = <usize>nHeads * hd * 4; // bytes per token row of q and out
  const kvStride = <usize>nKvHeads * hd * 4; // bytes per cache row
  const group = nHeads / nKvHeads;
  const scale = <f32>(1 / Math.sqrt(<f64>hd));
  for (let t = 0; t < T; t++) {
    const visible = pos0 + t + 1; // causal: positions 0 .. pos0+t
    for (let h = h0; h < h1; h++) {
      const headOffset = <usize>h * hd * 4;
      const kvOffset = <usize>(h / group) * hd * 4;
      attendHead(
        out + <usize>t * qStride + headOffset, q + <usize>t * qStride + headOffset,
        kCache + kvOffset, vCache + kvOffset, scores, visible, kvStride, hd, scale,
      );
    }
  }
}
