// AdamW (Loshchilov & Hutter 2019), as the LLaMA paper trains (§2.2): β1 0.9, β2 0.95,
// eps 1e-8, decoupled weight decay 0.1 on matrices and embeddings, none on norm gains. Per
// parameter p with gradient g, at step t = 1, 2, …, from m = v = 0 (torch.optim.AdamW's semantics):
//
//   p ← p · (1 − lr·wd)                                   decay first, and not through m/v
//   m ← β1 m + (1 − β1) g          v ← β2 v + (1 − β2) g²
//   p ← p − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + eps)   bias-corrected step
//
// m and v are kept in float32, like the parameters.
import type { NamedParameter } from './gradients.js';

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number; // applied to parameters whose `decay` is true
}

export const LLAMA_ADAMW: AdamWConfig = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };

export interface AdamWState {
  step: number; // steps taken so far
  names: string[]; // the parameters, in the order m and v follow
  m: Float32Array[]; // first moments, one per parameter, uncorrected
  v: Float32Array[]; // second moments, one per parameter, uncorrected
}

export function createAdamW(params: readonly NamedParameter[]): AdamWState {
  return {
    step: 0,
    names: params.map((p) => p.name),
    m: params.map((p) => new Float32Array(p.value.length)),
    v: params.map((p) => new Float32Array(p.value.length)),
  };
}

function checkConfig(config: AdamWConfig, lr: number): void {
  if (!(lr >= 0) || !Number.isFinite(lr)) throw new Error(`adamw: learning rate must be a finite number ≥ 0, got ${lr}`);
  if (!(config.beta1 >= 0 && config.beta1 < 1)) throw new Error(`adamw: beta1 must be in [0, 1), got ${config.beta1}`);
  if (!(config.beta2 >= 0 && config.beta2 < 1)) throw new Error(`adamw: beta2 must be in [0, 1), got ${config.beta2}`);
  if (!(config.eps > 0)) throw new Error(`adamw: eps must be positive, got ${config.eps}`);
  if (!(config.weightDecay >= 0)) throw new Error(`adamw: weightDecay must be ≥ 0, got ${config.weightDecay}`);
}

// One step over all parameters with their current gradients (clip those first).
export function adamwStep(state: AdamWState, params: readonly NamedParameter[], lr: number, config: AdamWConfig = LLAMA_ADAMW): void {
  checkConfig(config, lr);
  if (params.length !== state.names.length || params.some((p, i) => p.name !== state.names[i])) {
    throw new Error(`adamw: parameters [${params.map((p) => p.name).join(', ')}] are not the ones the state was made for`);
  }
  const t = ++state.step;
  const { beta1, beta2, eps } = config;
  const stepSize = lr / (1 - beta1 ** t);
  const vCorrection = Math.sqrt(1 - beta2 ** t);
  for (let j = 0; j < params.length; j++) {
    const { value, grad } = params[j];
    const m = state.m[j]; // [n]
    const v = state.v[j]; // [n]
    if (grad.length !== value.length || m.length !== value.length) throw new Error(`adamw: ${params[j].name} has ${value.length} values but ${grad.length} gradients`);
    const decay = params[j].decay ? 1 - lr * config.weightDecay : 1;
    for (let i = 0; i < value.length; i++) {
      const g = grad[i];
      m[i] = beta1 * m[i] + (1 - beta1) * g;
      v[i] = beta2 * v[i] + (1 - beta2) * g * g;
      value[i] = value[i] * decay - (stepSize * m[i]) / (Math.sqrt(v[i]) / vCorrection + eps);
    }
  }
}
