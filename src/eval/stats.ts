// Summary statistics as the reports use them: running sums of a value and its square give a
// mean and its standard error (llama.cpp's perplexity and lm-evaluation-harness's stderr
// are both the sample standard deviation over √n).

export class RunningMean {
  sum = 0;
  sum2 = 0;
  count = 0;

  add(x: number): void {
    this.sum += x;
    this.sum2 += x * x;
    this.count++;
  }

  get mean(): number {
    return this.count ? this.sum / this.count : NaN;
  }

  // √(var / (n−1)) with var = E[x²] − E[x]²: llama.cpp's uncertainty of the mean; equal to
  // sample stddev / √n, lm-evaluation-harness's mean_stderr.
  get stderr(): number {
    if (this.count < 2) return 0;
    const m = this.mean;
    const variance = this.sum2 / this.count - m * m;
    return variance > 0 ? Math.sqrt(variance / (this.count - 1)) : 0;
  }
}

// Linear interpolation between the two nearest ranks of sorted values, as llama.cpp's
// kl-divergence percentiles do.
export function percentile(sorted: ArrayLike<number>, fraction: number): number {
  if (sorted.length === 0) return NaN;
  if (fraction <= 0) return sorted[0];
  if (fraction >= 1) return sorted[sorted.length - 1];
  const p = fraction * (sorted.length - 1);
  const i = Math.floor(p);
  const f = p - i;
  return (1 - f) * sorted[i] + f * sorted[Math.min(i + 1, sorted.length - 1)];
}

export function median(sorted: ArrayLike<number>): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  return n % 2 ? sorted[(n - 1) / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
}
