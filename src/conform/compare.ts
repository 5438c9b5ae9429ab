// Comparing a port's tensors with golden ones, by the manifest's rule:
//
//   |ours − golden| ≤ atol + rtol·|golden|, element-wise, per tensor kind
//
// For kinds with an outlier allowance (AdamW), up to max(1, ⌊fraction·n⌋) elements may break
// that bound as long as they stay within outlier_atol + rtol·|golden|: a weight whose
// gradient is float32 noise around zero legitimately steps either way.
import type { Tolerance } from './golden.js';

export interface TensorComparison {
  name: string;
  kind: string;
  shape: number[];
  maxAbsError: number;
  maxRelError: number; // max |a−b| / |b| over elements with |b| > atol (0 if none)
  usage: number; // max |a−b| / (atol + rtol·|b|): ≤ 1 passes without outliers
  outliers: number; // elements beyond the bound
  allowedOutliers: number;
  worstIndex: number;
  worstAt?: string; // worstIndex as coordinates, e.g. "[t=3, head=2, i=17]" (see position.ts)
  ok: boolean;
  problem?: string; // shape mismatch, NaN, Infinity, missing from the dump
  toleranceScale?: number; // the share of the kind's tolerance this tensor gets (noise.ts)
  noise?: number; // the worst usage float32 showed on this tensor (accuracy.json), if measured
  aboveNoise?: number; // usage / max(noise, NOISE_FLOOR): how far above float32 noise this is
}

export function toleranceFor(name: string, tolerances: readonly Tolerance[]): Tolerance {
  for (const t of tolerances) if (new RegExp(t.pattern).test(name)) return t;
  throw new Error(`no tolerance kind in the manifest matches tensor "${name}"`);
}

export function compareTensor(
  name: string, ours: Float64Array, oursShape: number[], golden: Float64Array, goldenShape: number[], tol: Tolerance,
): TensorComparison {
  const result: TensorComparison = {
    name, kind: tol.kind, shape: goldenShape, maxAbsError: 0, maxRelError: 0, usage: 0,
    outliers: 0, allowedOutliers: 0, worstIndex: -1, ok: false,
  };
  if (oursShape.join(',') !== goldenShape.join(',')) {
    result.problem = `shape [${oursShape}] but golden is [${goldenShape}]`;
    result.maxAbsError = result.usage = Infinity;
    return result;
  }
  const n = golden.length;
  const fraction = tol.outlier_fraction ?? 0;
  result.allowedOutliers = fraction > 0 ? Math.max(1, Math.floor(fraction * n)) : 0;
  let outliersWithinCap = true;
  for (let i = 0; i < n; i++) {
    const a = ours[i];
    const b = golden[i];
    const err = Math.abs(a - b);
    if (!Number.isFinite(err)) {
      // NaN or ±Infinity in the dump (golden values are always finite)
      result.problem = `${Number.isNaN(a) ? 'NaN' : String(a)} at element ${i}`;
      result.maxAbsError = result.usage = Infinity;
      result.worstIndex = i;
      return result;
    }
    const bound = tol.atol + tol.rtol * Math.abs(b);
    const usage = bound > 0 ? err / bound : err > 0 ? Infinity : 0;
    if (err > result.maxAbsError) result.maxAbsError = err;
    if (Math.abs(b) > tol.atol && err / Math.abs(b) > result.maxRelError) result.maxRelError = err / Math.abs(b);
    if (usage > result.usage) {
      result.usage = usage;
      result.worstIndex = i;
    }
    if (err > bound) {
      result.outliers++;
      if (tol.outlier_atol === undefined || err > tol.outlier_atol + tol.rtol * Math.abs(b)) outliersWithinCap = false;
    }
  }
  result.ok = result.outliers === 0 || (outliersWithinCap && result.outliers <= result.allowedOutliers);
  return result;
}
