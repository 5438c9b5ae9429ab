// Rotary position embeddings (Su et al. 2021) on adjacent pairs, as in Meta's model.py
// (complex multiplication of (x[2i], x[2i+1])) and in GGUF files:
//
//   θ_i = theta^(-2i / hd),   φ = pos · θ_i
//   (x[2i], x[2i+1]) ← (x[2i] cos φ − x[2i+1] sin φ,  x[2i] sin φ + x[2i+1] cos φ)
//
// Hugging Face checkpoints use "rotate half" pairs (i, i + hd/2) instead and permute the
// rows of wq/wk to match; importers undo that permutation so this one RoPE serves all.

// x: [T, nHeads*hd], rotated in place; row t is at position pos0 + t
export function rope(x: Float32Array, T: number, nHeads: number, hd: number, pos0: number, theta: number): void {
  for (let t = 0; t < T; t++) {
    const pos = pos0 + t;
    for (let i = 0; i < hd / 2; i++) {
      const angle = pos * Math.pow(theta, (-2 * i) / hd);
      const cos = Math.cos(angle);
      const sin = Math.sin(angle);
      for (let h = 0; h < nHeads; h++) {
        const j = t * nHeads * hd + h * hd + 2 * i;
        const x0 = x[j];
        const x1 = x[j + 1];
        x[j] = x0 * cos - x1 * sin;
        x[j + 1] = x0 * sin + x1 * cos;
      }
    }
  }
}

// Backward of RoPE. Each pair is rotated by an orthogonal matrix R(φ), so the gradient is
// Rᵀ(φ) dy = R(−φ) dy: the same rotation by minus the angle, in place on the gradient.
//
//   (d0, d1) ← (d0 cos φ + d1 sin φ,  −d0 sin φ + d1 cos φ)
//
// dx: [T, nHeads*hd], the gradient of rope's output, turned into that of its input
export function ropeBackward(dx: Float32Array, T: number, nHeads: number, hd: number, pos0: number, theta: number): void {
  for (let t = 0; t < T; t++) {
    const pos = pos0 + t;
    for (let i = 0; i < hd / 2; i++) {
      const angle = pos * Math.pow(theta, (-2 * i) / hd);
      const cos = Math.cos(angle);
      const sin = Math.sin(angle);
      for (let h = 0; h < nHeads; h++) {
        const j = t * nHeads * hd + h * hd + 2 * i;
        const d0 = dx[j];
        const d1 = dx[j + 1];
        dx[j] = d0 * cos + d1 * sin;
        dx[j + 1] = -d0 * sin + d1 * cos;
      }
    }
  }
}
