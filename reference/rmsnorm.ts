// RMSNorm (Zhang & Sennrich 2019), LLaMA's pre-normalization:
//
//   y = x / sqrt(mean(x²) + eps) ⊙ g
//
// No mean subtraction and no bias, unlike LayerNorm.

// out, x: [T, C]; gain: [C]
export function rmsnorm(out: Float32Array, x: Float32Array, gain: Float32Array, T: number, C: number, eps: number): void {
  for (let t = 0; t < T; t++) {
    const o = t * C;
    let ss = 0;
    for (let c = 0; c < C; c++) ss += x[o + c] * x[o + c];
    const inv = 1 / Math.sqrt(ss / C + eps);
    for (let c = 0; c < C; c++) out[o + c] = x[o + c] * inv * gain[c];
  }
}

// Backward of y = x · r · g with r = (mean(x²) + eps)^(−1/2), so ∂r/∂x_i = −r³ x_i / C:
//
//   dx_i += r g_i dy_i − (r³ / C) · x_i · Σ_j dy_j g_j x_j
//   dg_i += Σ_t dy_i x_i r
//
// r is recomputed from x (C multiply-adds) rather than kept from the forward pass.
// dx, dout, x: [T, C]; dgain, gain: [C]
export function rmsnormBackward(
  dx: Float32Array, dgain: Float32Array, dout: Float32Array, x: Float32Array, gain: Float32Array,
  T: number, C: number, eps: number,
): void {
  for (let t = 0; t < T; t++) {
    const o = t * C;
    let ss = 0;
    for (let c = 0; c < C; c++) ss += x[o + c] * x[o + c];
    const r = 1 / Math.sqrt(ss / C + eps);
    let dot = 0; // Σ_j dy_j g_j x_j
    for (let c = 0; c < C; c++) dot += dout[o + c] * gain[c] * x[o + c];
    const k = (r * r * r * dot) / C;
    for (let c = 0; c < C; c++) {
      dx[o + c] += r * gain[c] * dout[o + c] - k * x[o + c];
      dgain[c] += dout[o + c] * x[o + c] * r;
    }
  }
}
