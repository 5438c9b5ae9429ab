// The LLaMA learning-rate schedule (§2.2): linear warmup from 0 to the peak over `warmup`
// steps, then a cosine down to minRatio·peak (10 % in the paper) at step `total`, flat after.
//
//   step < warmup:   lr = peak · step / warmup
//   otherwise:       lr = min + (peak − min) · ½ (1 + cos(π · progress)),
//                    progress = (step − warmup) / (total − warmup) clamped to [0, 1], min = minRatio·peak

export interface Schedule {
  peak: number; // the highest learning rate, reached at step `warmup`
  warmup: number; // steps of linear warmup (0: start at the peak)
  total: number; // the step where the cosine reaches its minimum
  minRatio?: number; // the final learning rate as a share of the peak; default 0.1
}

export function lrAt(step: number, s: Schedule): number {
  const minRatio = s.minRatio ?? 0.1;
  if (!Number.isFinite(step) || step < 0) throw new Error(`lrAt: step must be a number ≥ 0, got ${step}`);
  if (!(s.peak >= 0) || !Number.isFinite(s.peak)) throw new Error(`lrAt: peak must be a finite number ≥ 0, got ${s.peak}`);
  if (!Number.isSafeInteger(s.warmup) || s.warmup < 0) throw new Error(`lrAt: warmup must be an integer ≥ 0, got ${s.warmup}`);
  if (!Number.isSafeInteger(s.total) || s.total < s.warmup) throw new Error(`lrAt: total ${s.total} must be an integer ≥ warmup ${s.warmup}`);
  if (!(minRatio >= 0 && minRatio <= 1)) throw new Error(`lrAt: minRatio must be in [0, 1], got ${minRatio}`);
  if (step < s.warmup) return (s.peak * step) / s.warmup;
  const min = minRatio * s.peak;
  if (s.total === s.warmup) return step === s.warmup ? s.peak : min;
  const progress = Math.min(1, (step - s.warmup) / (s.total - s.warmup));
  return min + (s.peak - min) * 0.5 * (1 + Math.cos(Math.PI * progress));
}
