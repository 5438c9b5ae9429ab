// Causal attention over one whole sequence (positions 0..T-1, no cache), forward and
// backward, as matrix products on the blocked product of gemm.ts — the training shape,
// where a row-at-a-time loop spends its time in call overhead and horizontal sums.
// Per query head h and its kv head g (reference/attention.ts has the readable maths):
//
//   S = Q_h K_gᵀ / √hd,  P = causal softmax of the rows of S,  O_h = P V_g
//   dP = dO_h V_gᵀ,  dS = P ⊙ (dP − rowsum(P ⊙ dP)) / √hd
//   dV_g += Pᵀ dO_h,  dQ_h += dS K_g,  dK_g += dSᵀ Q_h
//
// Only the lower triangle of S and dP is computed (LOWER_C), and the products with P or dS
// skip its zeros (LOWER_A, UPPER_A); the softmax leaves exact zeros above the diagonal.
// Q_h, K_g, ... are strided views: head h's hd columns of the [T, nHeads*hd] rows.
import { softmaxF32 } from './exp';
import { LOWER_A, LOWER_C, product, transposeStrided, UPPER_A } from './gemm';

// Row t of s [T, T]: p[t, s ≤ t] = softmax(scale · s[t, s ≤ t]), p[t, s > t] = 0, in place
function causalSoftmax(s: usize, T: i32, scale: f32): void {
  const sc = f32x4.splat(scale);
  for (let t = 0; t < T; t++) {
    const row = s + <usize>t * T * 4;
    const visible = t + 1;
    let i = 0;
    for (; i + 4 <= visible; i += 4) v128.store(row + (<usize>i << 2), f32x4.mul(v128.load(row + (<usize>i << 2)), sc));
    for (; i < visible; i++) store<f32>(row + (<usize>i << 2), load<f32>(row + (<usize>i << 2)) * scale);
    softmaxF32(row, visible);
    memory.fill(row + (<usize>visible << 2), 0, <usize>(T - visible) << 2);
  }
}

// p [T, T] becomes dS: p (dp − Σ_s p dp) · scale on s ≤ t, zero above the diagonal
function softmaxBackwardRows(p: usize, dp: usize, T: i32, scale: f32): void {
  for (let t = 0; t < T; t++) {
    const pRow = p + <usize>t * T * 4;
    const dpRow = dp + <usize>t * T * 4;
    const visible = t + 1;
    let sum: f64 = 0; // Σ_s p_s dp_s
    for (let s = 0; s < visible; s++) sum += <f64>load<f32>(pRow + (<usize>s << 2)) * <f64>load<f32>(dpRow + (<usize>s << 2));
    const pdp = f32x4.splat(<f32>sum);
    const sc = f32x4.splat(scale);
    let s = 0;
    for (; s + 4 <= visible; s += 4) {
      const o = <usize>s << 2;
      v128.store(pRow + o, f32x4.mul(f32x4.mul(v128.load(pRow + o), f32x4.sub(v128.load(dpRow + o), pdp)), sc));
    }
    for (; s < visible; s++) {
      const o = <usize>s << 2;
      store<f32>(pRow + o, load<f32>(pRow + o) * (load<f32>(dpRow + o) - <f32>sum) * scale);
    }
  }
}

// out, q: [T, nHeads*hd]; k, v: [T, nKvHeads*hd]; scores: scratch [T, T]; kT: scratch [hd, T].
// Kv heads g0 ≤ g < g1 and their query heads only: threads split attention by kv groups.
export function attentionSequence(
  out: usize, q: usize, k: usize, v: usize, scores: usize, kT: usize,
  T: i32, nHeads: i32, nKvHeads: i32, hd: i32, g0: i32, g1: i32,
): void {
  const qRow = <usize>nHeads * hd * 4; // bytes per row of q and out
  const kvRow = <usize>nKvHeads * hd * 4; // bytes per row of k and v
  const tRow = <usize>T * 4; // bytes per row of scores and kT
  const group = nHeads / nKvHeads;
  const scale = <f32>(1 / Math.sqrt(<f64>hd));
  for (let g = g0; g < g1; g++) {
    const go = <usize>g * hd * 4;
    transposeStrided(kT, k + go, kvRow, T, hd); // K_gᵀ [hd, T]
    for (let h = g * group; h < (g + 1) * group; h++) {
      const ho = <usize>h * hd * 4;
      product(scores, tRow, q + ho, qRow, kT, tRow, T, hd, 0, T, false, LOWER_C); // S = Q_h K_gᵀ
      causalSoftmax(scores, T, scale); // P
      product(out + ho, qRow, scores, tRow, v + go, kvRow, T, T, 0, hd, false, LOWER_A); // O_h = P V_g
    }
  }
}

// dq, dout, q: [T, nHeads*hd]; dk, dv, k, v: [T, nKvHeads*hd]. Scratch: p, dp, pT [T, T] each,
// kT, vT [hd, T] each. Kv heads g0 ≤ g < g1 only (a group's dk, dv rows are its own).
export function attentionSequenceBackward(
  dq: usize, dk: usize, dv: usize, dout: usize, q: usize, k: usize, v: usize,
  p: usize, dp: usize, pT: usize, kT: usize, vT: usize,
  T: i32, nHeads: i32, nKvHeads: i32, hd: i32, g0: i32, g1: i32,
): void {
  const qRow = <usize>nHeads * hd * 4; // bytes per row of q, dq, dout
  const kvRow = <usize>nKvHeads * hd * 4; // bytes per row of k, v, dk, dv
  const tRow = <usize>T * 4; // bytes per row of p, dp, pT, kT, vT
  const group = nHeads / nKvHeads;
  const scale = <f32>(1 / Math.sqrt(<f64>hd));
  for (let g = g0; g < g1; g++) {
    const go = <usize>g * hd * 4;
    transposeStrided(kT, k + go, kvRow, T, hd); // K_gᵀ [hd, T]
    transposeStrided(vT, v + go, kvRow, T, hd); // V_gᵀ [hd, T]
    for (let h = g * group; h < (g + 1) * group; h++) {
      const ho = <usize>h * hd * 4;
      product(p, tRow, q + ho, qRow, kT, tRow, T, hd, 0, T, false, LOWER_C); // S, recomputed
      causalSoftmax(p, T, scale); // P, as the forward had it
      product(dp, tRow, dout + ho, qRow, vT, tRow, T, hd, 0, T, false, LOWER_C); // dP = dO_h V_gᵀ
      transposeStrided(pT, p, tRow, T, T);
      product(dv + go, kvRow, pT, tRow, dout + ho, qRow, T, T, 0, hd, true, UPPER_A); // dV_g += Pᵀ dO_h
      softmaxBackwardRows(p, dp, T, scale); // p now holds dS
      product(dq + ho, qRow, p, tRow, k + go, kvRow, T, T, 0, hd, true, LOWER_A); // dQ_h += dS K_g
      transposeStrided(pT, p, tRow, T, T);
      product(dk + go, kvRow, pT, tRow, q + ho, qRow, T, T, 0, hd, true, UPPER_A); // dK_g += dSᵀ Q_h
    }
  }
}
