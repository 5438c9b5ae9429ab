// Shared by the golden training tests: compare one of our tensors with a golden one by the
// manifest's tolerance rule (src/conform/compare.ts), with a message that names it.
import { expect } from 'vitest';
import { compareTensor, toleranceFor } from '../src/conform/compare.js';
import type { GoldenManifest } from '../src/conform/golden.js';
import { tensorToFloat64, type SafetensorsFile } from '../src/formats/safetensors.js';

export function expectGolden(manifest: GoldenManifest, expected: SafetensorsFile, name: string, ours: ArrayLike<number>): void {
  const t = expected.tensors.get(name);
  if (!t) throw new Error(`golden tensor "${name}" is missing`);
  const result = compareTensor(name, Float64Array.from(ours), t.shape, tensorToFloat64(t), t.shape, toleranceFor(name, manifest.tolerances));
  const detail = `${name} (${result.kind}): max abs error ${result.maxAbsError.toExponential(2)}, usage ${result.usage.toFixed(3)}, outliers ${result.outliers}/${result.allowedOutliers} ${result.problem ?? ''}`;
  if (process.env.GOLDEN_VERBOSE) console.log(detail);
  expect(result.ok, detail).toBe(true);
}

// The AdamW settings of a case (GoldenCase does not type them), or null.
export interface GoldenAdamW {
  lr: number;
  steps: number;
  saved_steps: number[];
  beta1: number;
  beta2: number;
  eps: number;
  weight_decay: { '2-D': number; '1-D': number };
  clip_grad_norm: number;
  schedule: string;
}

export function caseAdamW(c: object): GoldenAdamW | null {
  return (c as { adamw?: GoldenAdamW | null }).adamw ?? null;
}
