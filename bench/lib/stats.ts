// Small statistics over repeated timings.

// The median of a non-empty list (the mean of the middle two for an even count).
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

// Seconds since an arbitrary origin, at sub-microsecond resolution.
export function seconds(): number {
  return performance.now() / 1000;
}

// Runs `fn` and returns how long it took, in seconds.
export function timed(fn: () => void): number {
  const t0 = seconds();
  fn();
  return seconds() - t0;
}

export async function timedAsync(fn: () => Promise<unknown>): Promise<number> {
  const t0 = seconds();
  await fn();
  return seconds() - t0;
}
