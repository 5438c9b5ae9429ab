// Global-norm gradient clipping at 1.0 (the LLaMA paper, §2.2), as torch.nn.utils.clip_grad_norm_:
//
//   n = √(Σ over every gradient element of g²);   c = maxNorm / (n + 1e-6);   if c < 1: g ← g·c
//
// One norm over all parameters together, so clipping keeps the update's direction.

// The global 2-norm of all gradients, summed in float64.
export function gradNorm(grads: readonly Float32Array[]): number {
  let ss = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) ss += g[i] * g[i];
  return Math.sqrt(ss);
}

// Scales the gradients in place when their norm exceeds maxNorm; returns the norm before clipping.
export function clipGradNorm(grads: readonly Float32Array[], maxNorm = 1.0): number {
  if (!(maxNorm > 0)) throw new Error(`clipGradNorm: maxNorm must be positive, got ${maxNorm}`);
  const norm = gradNorm(grads);
  const coef = maxNorm / (norm + 1e-6);
  if (coef < 1) for (const g of grads) for (let i = 0; i < g.length; i++) g[i] *= coef;
  return norm;
}
