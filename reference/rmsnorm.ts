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
