// How ggml's reference quantizers (ggml-quants.c, no importance matrix) choose the scale of
// a small group of values: not max/nmax, but a search over candidate scales for the one
// whose rounded integers reconstruct the group best, weighted. Written from the algorithm's
// description in ggml; all arithmetic in float32 as ggml does it (Math.fround every step),
// so that the integers chosen agree with llama.cpp's in all but rare ties.
//
//   signedScale      x ≈ s·l, l in [−nmax, nmax)         (Q6_K: make_qx_quants)
//   signedScaleQ3    the same, improved a value at a time (Q3_K: make_q3_quants)
//   scaleAndMin      x ≈ s·l − m, l in [0, nmax]         (Q2_K, Q4_K, Q5_K: make_qkx2_quants)
//
// Each reads n values x[xs .. xs+n) and writes the chosen integers to L[ls .. ls+n).
import { f16ToF32, f32ToF16 } from '../../reference/tensor.js';

const f = Math.fround;

// Below this largest |x| a group counts as all zeros (ggml's GROUP_MAX_EPS).
export const GROUP_MAX_EPS = 1e-15;

// ggml's nearest_int: float32 round-half-to-even, by adding 1.5·2^23 in float32.
export function nearestInt(x: number): number {
  return f(x + 12582912) - 12582912;
}

export function clamp(l: number, lo: number, hi: number): number {
  return Math.max(lo, Math.min(hi, l));
}

// Writes x as an IEEE half at out[o], little-endian; returns the half's value as read back.
export function writeHalf(out: Uint8Array, o: number, x: number): number {
  const h = f32ToF16(x);
  out[o] = h & 0xff;
  out[o + 1] = h >> 8;
  return f16ToF32(h);
}

// The signed value of largest magnitude in x[xs .. xs+n) (the first, on ties).
export function signedAbsMax(x: Float32Array, xs: number, n: number): number {
  let amax = 0, max = 0;
  for (let i = 0; i < n; i++) {
    const ax = Math.abs(x[xs + i]);
    if (ax > amax) { amax = ax; max = x[xs + i]; }
  }
  return max;
}

// Weighted fit of the scale for integers l_i = round(iscale·x_i) clamped to [−nmax, nmax):
// the least-squares s = Σ w x l / Σ w l², with w = x² (big values matter most).
interface SignedFit { sumlx: number; suml2: number }
function signedFit(x: Float32Array, xs: number, n: number, nmax: number, iscale: number, L?: Int8Array, ls = 0): SignedFit {
  let sumlx = 0, suml2 = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[xs + i];
    const l = clamp(nearestInt(f(iscale * xi)), -nmax, nmax - 1);
    if (L) L[ls + i] = l + nmax;
    const w = f(xi * xi);
    sumlx = f(sumlx + f(f(w * xi) * l));
    suml2 = f(suml2 + f(f(w * l) * l));
  }
  return { sumlx, suml2 };
}

// Q6_K's search: start from iscale = −nmax / max, then try 18 nearby iscales
// −(nmax + 0.1·k) / max (k = ±1..±9) and keep the one that explains most of x
// (largest (Σ w x l)² / Σ w l²). L gets l + nmax in [0, 2·nmax). Returns the scale.
export function signedScale(x: Float32Array, xs: number, n: number, nmax: number, L: Int8Array, ls: number): number {
  const max = signedAbsMax(x, xs, n);
  if (Math.abs(max) < GROUP_MAX_EPS) {
    L.fill(0, ls, ls + n);
    return 0;
  }
  const first = signedFit(x, xs, n, nmax, f(-nmax / max), L, ls);
  let scale = first.suml2 ? f(first.sumlx / first.suml2) : 0;
  let best = f(scale * first.sumlx);
  for (let k = -9; k <= 9; k++) {
    if (k === 0) continue;
    const iscale = f(f(-f(nmax + f(f(0.1) * k))) / max); // 0.1f in ggml
    const { sumlx, suml2 } = signedFit(x, xs, n, nmax, iscale);
    if (suml2 > 0 && f(sumlx * sumlx) > f(best * suml2)) {
      signedFit(x, xs, n, nmax, iscale, L, ls);
      scale = f(sumlx / suml2);
      best = f(scale * sumlx);
    }
  }
  return scale;
}

// Q3_K's search: start from iscale = −nmax / max, then up to 5 passes that move single
// integers to the value the other integers' fit suggests, when that improves the fit.
// L gets l + nmax in [0, 2·nmax). Returns the scale.
export function signedScaleQ3(x: Float32Array, xs: number, n: number, nmax: number, L: Int8Array, ls: number): number {
  const max = signedAbsMax(x, xs, n);
  if (Math.abs(max) < GROUP_MAX_EPS) {
    L.fill(0, ls, ls + n);
    return 0;
  }
  let { sumlx, suml2 } = signedFit(x, xs, n, nmax, f(-nmax / max), L, ls);
  for (let i = 0; i < n; i++) L[ls + i] -= nmax; // signed while improving
  for (let pass = 0; pass < 5; pass++) {
    let changed = 0;
    for (let i = 0; i < n; i++) {
      const xi = x[xs + i];
      const w = f(xi * xi);
      const li = L[ls + i];
      let slx = f(sumlx - f(f(w * xi) * li));
      if (slx <= 0) continue;
      let sl2 = f(suml2 - f(f(w * li) * li));
      const l = clamp(nearestInt(f(f(xi * sl2) / slx)), -nmax, nmax - 1);
      if (l === li) continue;
      slx = f(slx + f(f(w * xi) * l));
      sl2 = f(sl2 + f(f(w * l) * l));
      if (sl2 > 0 && f(f(slx * slx) * suml2) > f(f(sumlx * sumlx) * sl2)) {
        L[ls + i] = l;
        sumlx = slx;
        suml2 = sl2;
        changed++;
      }
    }
    if (!changed) break;
  }
  for (let i = 0; i < n; i++) L[ls + i] += nmax;
  return suml2 > 0 ? f(sumlx / suml2) : 0;
}

// Q2_K/Q4_K/Q5_K's search for x ≈ scale·l − min (min ≥ 0, l in [0, nmax]), weighted by
// `weights`: start from the range [min(x, 0), max(x)] cut in nmax steps, then for
// nstep + 1 candidate iscales (rmin + rdelta·k + nmax) / (max − best min so far) round,
// solve the weighted least-squares scale and min for those integers, and keep whichever
// has the smallest weighted error (squared, or absolute with `mad`). L gets l; Laux is
// scratch of n.
export interface ScaleMinSearch { rmin: number; rdelta: number; nstep: number; mad: boolean }
export function scaleAndMin(
  x: Float32Array, xs: number, n: number, nmax: number, weights: Float32Array,
  L: Uint8Array, ls: number, Laux: Uint8Array, search: ScaleMinSearch,
): { scale: number; min: number } {
  let min = x[xs], max = x[xs];
  let sumW = weights[0];
  let sumX = f(sumW * x[xs]);
  for (let i = 1; i < n; i++) {
    const xi = x[xs + i];
    if (xi < min) min = xi;
    if (xi > max) max = xi;
    sumW = f(sumW + weights[i]);
    sumX = f(sumX + f(weights[i] * xi));
  }
  if (min > 0) min = 0;
  if (max === min) {
    L.fill(0, ls, ls + n);
    return { scale: 0, min: -min };
  }
  const error = (s: number, m: number, q: Uint8Array, qs: number): number => {
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const diff = f(f(f(s * q[qs + i]) + m) - x[xs + i]);
      sum = f(sum + f(weights[i] * (search.mad ? Math.abs(diff) : f(diff * diff))));
    }
    return sum;
  };
  let iscale = f(nmax / f(max - min));
  let scale = f(1 / iscale);
  for (let i = 0; i < n; i++) L[ls + i] = clamp(nearestInt(f(iscale * f(x[xs + i] - min))), 0, nmax);
  let bestError = error(scale, min, L, ls);
  for (let k = 0; k <= search.nstep; k++) {
    // the range from the best min so far, as in ggml (rdelta a float there too)
    iscale = f(f(f(search.rmin + f(f(search.rdelta) * k)) + nmax) / f(max - min));
    let sumL = 0, sumL2 = 0, sumXL = 0;
    for (let i = 0; i < n; i++) {
      const l = clamp(nearestInt(f(iscale * f(x[xs + i] - min))), 0, nmax);
      Laux[i] = l;
      const wl = f(weights[i] * l);
      sumL = f(sumL + wl);
      sumL2 = f(sumL2 + f(wl * l));
      sumXL = f(sumXL + f(wl * x[xs + i]));
    }
    const D = f(f(sumW * sumL2) - f(sumL * sumL));
    if (!(D > 0)) continue;
    let thisScale = f(f(f(sumW * sumXL) - f(sumX * sumL)) / D);
    let thisMin = f(f(f(sumL2 * sumX) - f(sumL * sumXL)) / D);
    if (thisMin > 0) {
      thisMin = 0;
      thisScale = f(sumXL / sumL2);
    }
    const e = error(thisScale, thisMin, Laux, 0);
    if (e < bestError) {
      L.set(Laux.subarray(0, n), ls);
      bestError = e;
      scale = thisScale;
      min = thisMin;
    }
  }
  return { scale, min: -min };
}
