// Float32 noise per tensor, from golden/accuracy.json, and the tolerances it allows.
//
// The manifest's tolerances are per kind and sized for the noisiest tensor of the kind (the
// last norm of the 5-layer stories260K). Most forward tensors are far quieter: the first
// attention_norm of a float32 port is within ~3e-4 of its tolerance, since its input (an
// embedding row) is exact. A bug that moves it by 15 % of the tolerance (eps outside the
// square root) is then 500× float32 noise, yet passes the kind's tolerance and first fails
// one or two tensors later. So for the forward kinds each tensor gets its own tolerance:
//
//   tolerance(tensor) = kind tolerance × clamp(HEADROOM × worst float32 usage of tensor, MIN_SCALE, 1)
//
// (worst over every case that has the tensor). HEADROOM leaves a port that sums in another
// order 20× our float32 error; MIN_SCALE keeps exact tensors (embedding) from getting a zero
// tolerance. Training kinds keep the manifest's: an independent float32 port used up to 46 %
// of the AdamW weight tolerance, far above our own 8 %, so there is no measured room there.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Tolerance } from './golden.js';

export const HEADROOM = 20;
export const MIN_SCALE = 0.02;
export const TIGHTENED_KINDS: ReadonlySet<string> = new Set(['activation', 'logits']);
// Below this share of the tolerance an error is float32 noise whatever accuracy.json says.
export const NOISE_FLOOR = 1e-3;
// "Clearly above float32 noise": this many times the worst float32 usage of the tensor.
export const ABOVE_NOISE = 10;

// The worst float32 usage of each tensor over all cases; empty without accuracy.json.
export type NoiseTable = ReadonlyMap<string, number>;

export function readNoise(goldenDir: string): NoiseTable {
  const path = join(goldenDir, 'accuracy.json');
  if (!existsSync(path)) return new Map();
  const json = JSON.parse(readFileSync(path, 'utf8'));
  const noise = new Map<string, number>();
  for (const [caseName, c] of Object.entries<{ float32?: unknown }>(json.cases ?? {})) {
    if (c.float32 === undefined) continue;
    if (!Array.isArray(c.float32)) throw new Error(`${path}: cases.${caseName}.float32 is not a list`);
    for (const row of c.float32) {
      const [name, , , usage] = row as [string, number, number, number];
      if (typeof name !== 'string' || typeof usage !== 'number') throw new Error(`${path}: cases.${caseName}.float32 has a row that is not [tensor, max_abs, max_rel, usage]`);
      noise.set(name, Math.max(noise.get(name) ?? 0, usage));
    }
  }
  return noise;
}

// The share of the kind's tolerance a tensor gets (1 = the manifest's).
export function toleranceScale(tol: Tolerance, noise: number | undefined): number {
  if (noise === undefined || !TIGHTENED_KINDS.has(tol.kind)) return 1;
  return Math.min(1, Math.max(MIN_SCALE, HEADROOM * noise));
}

export function scaledTolerance(tol: Tolerance, scale: number): Tolerance {
  return scale === 1 ? tol : { ...tol, atol: tol.atol * scale, rtol: tol.rtol * scale };
}

// How many times float32 noise an error is; usage is against the manifest's tolerance.
export function noiseMultiple(usage: number, noise: number | undefined): number {
  return usage / Math.max(noise ?? NOISE_FLOOR, NOISE_FLOOR);
}
