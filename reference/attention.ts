// Causal self-attention over a KV cache, with grouped key/value heads (Ainslie et al. 2023):
//
//   attn_h(t) = Σ_{s ≤ pos(t)} softmax_s( q_h(t) · k_g(s) / √hd ) v_g(s),   g = ⌊h / (nHeads/nKvHeads)⌋
//
// Each group of nHeads/nKvHeads query heads shares one key/value head; with nKvHeads ==
// nHeads this is ordinary multi-head attention.

// x: [n] softmax in place (max subtracted first so exp never overflows)
export function softmax(x: Float32Array, n: number): void {
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (x[i] > max) max = x[i];
  let sum = 0;
  for (let i = 0; i < n; i++) {
    x[i] = Math.exp(x[i] - max);
    sum += x[i];
  }
  for (let i = 0; i < n; i++) x[i] /= sum;
}

// The attention weights of one query head over the first `visible` cached positions:
// softmax_s(q · k_s / √hd). q at qo in `q`; key head at offset kvo within each cache row.
// scores: [≥ visible], written. Exported for views that show these weights (src/explain).
export function attentionWeights(
  scores: Float32Array, q: Float32Array, qo: number, kCache: Float32Array, kvo: number, kvDim: number, visible: number, hd: number,
): void {
  const scale = 1 / Math.sqrt(hd);
  for (let s = 0; s < visible; s++) {
    let dot = 0;
    for (let i = 0; i < hd; i++) dot += q[qo + i] * kCache[s * kvDim + kvo + i];
    scores[s] = dot * scale;
  }
  softmax(scores, visible);
}

// out, q: [T, nHeads*hd]; kCache, vCache: [S, nKvHeads*hd], rows 0 .. pos0+T-1 filled
export function attention(
  out: Float32Array, q: Float32Array, kCache: Float32Array, vCache: Float32Array,
  T: number, pos0: number, nHeads: number, nKvHeads: number, hd: number,
): void {
  const qDim = nHeads * hd;
  const kvDim = nKvHeads * hd;
  const group = nHeads / nKvHeads;
  const scores = new Float32Array(pos0 + T); // [S] attention weights of one query head
  for (let t = 0; t < T; t++) {
    const visible = pos0 + t + 1; // causal: positions 0 .. pos0+t
    for (let h = 0; h < nHeads; h++) {
      const qo = t * qDim + h * hd;
      const kvo = Math.floor(h / group) * hd;
      attentionWeights(scores, q, qo, kCache, kvo, kvDim, visible, hd);
      for (let i = 0; i < hd; i++) {
        let acc = 0;
        for (let s = 0; s < visible; s++) acc += scores[s] * vCache[s * kvDim + kvo + i];
        out[qo + i] = acc;
      }
    }
  }
}

// Backward of causal attention over one whole sequence (positions 0..T-1, no cache), with
// p = softmax(s), s_ts = q_t · k_s / √hd, out_t = Σ_s p_ts v_s, per query head h and its group g:
//
//   dv_s  += p_ts · dout_t                      (summed over the group's query heads)
//   dp_ts  = dout_t · v_s
//   ds_ts  = p_ts · (dp_ts − Σ_s' p_ts' dp_ts')  (softmax backward)
//   dq_t  += Σ_s ds_ts · k_s / √hd
//   dk_s  += ds_ts · q_t / √hd                  (summed over the group's query heads)
//
// The probabilities are recomputed from q and k (O(T²·hd), like the forward) instead of kept.
// dq, dout, q: [T, nHeads*hd]; dk, dv, k, v: [T, nKvHeads*hd]
export function attentionBackward(
  dq: Float32Array, dk: Float32Array, dv: Float32Array, dout: Float32Array,
  q: Float32Array, k: Float32Array, v: Float32Array,
  T: number, nHeads: number, nKvHeads: number, hd: number,
): void {
  const qDim = nHeads * hd;
  const kvDim = nKvHeads * hd;
  const group = nHeads / nKvHeads;
  const scale = 1 / Math.sqrt(hd);
  const p = new Float32Array(T); // [T] attention weights of one query row, as the forward had them
  const dp = new Float64Array(T); // [T] gradient of those weights
  for (let t = 0; t < T; t++) {
    const visible = t + 1;
    for (let h = 0; h < nHeads; h++) {
      const qo = t * qDim + h * hd;
      const kvo = Math.floor(h / group) * hd;
      for (let s = 0; s < visible; s++) {
        let dot = 0;
        for (let i = 0; i < hd; i++) dot += q[qo + i] * k[s * kvDim + kvo + i];
        p[s] = dot * scale;
      }
      softmax(p, visible);
      let pdp = 0; // Σ_s p_s dp_s
      for (let s = 0; s < visible; s++) {
        let dot = 0;
        for (let i = 0; i < hd; i++) {
          dot += dout[qo + i] * v[s * kvDim + kvo + i];
          dv[s * kvDim + kvo + i] += p[s] * dout[qo + i];
        }
        dp[s] = dot;
        pdp += p[s] * dot;
      }
      for (let s = 0; s < visible; s++) {
        const ds = p[s] * (dp[s] - pdp) * scale;
        for (let i = 0; i < hd; i++) {
          dq[qo + i] += ds * k[s * kvDim + kvo + i];
          dk[s * kvDim + kvo + i] += ds * q[qo + i];
        }
      }
    }
  }
}
