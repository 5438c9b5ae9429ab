// SwiGLU (Shazeer 2020), the gate of LLaMA's feed-forward: FFN(x) = W2 (silu(W1 x) ⊙ W3 x).
//
//   silu(a) = a · σ(a) = a / (1 + e^(−a))

export function silu(a: number): number {
  return a / (1 + Math.exp(-a));
}

// out, gate (W1 x), up (W3 x): [n]
export function swiglu(out: Float32Array, gate: Float32Array, up: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) out[i] = silu(gate[i]) * up[i];
}

// Backward of out = silu(g) · u, with silu'(g) = σ(g) · (1 + g · (1 − σ(g))):
//
//   dgate += dout · u · silu'(g)        dup += dout · silu(g)
//
// dgate, dup, dout, gate (W1 x, before silu), up (W3 x): [n]
export function swigluBackward(
  dgate: Float32Array, dup: Float32Array, dout: Float32Array, gate: Float32Array, up: Float32Array, n: number,
): void {
  for (let i = 0; i < n; i++) {
    const g = gate[i];
    const sigmoid = 1 / (1 + Math.exp(-g));
    dgate[i] += dout[i] * up[i] * sigmoid * (1 + g * (1 - sigmoid));
    dup[i] += dout[i] * g * sigmoid;
  }
}
