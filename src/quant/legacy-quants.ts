// Float32 -> ggml's other 32-value block types (beside Q8_0/Q4_0 in quantize.ts), as
// llama.cpp's quantize writes them without an importance matrix (ggml-quants.c:
// quantize_row_q4_1_ref, q5_0, q5_1; quantize_iq4_nl). Block layouts: reference/quants-legacy.ts.
//
//   q4_1  d = (max − min) / 15, m = min, q = min(15, trunc((x − min)/d + 0.5))
//   q5_0  d = m / −16 (m: the x of largest |x|), q = min(31, trunc(x/d + 16.5))
//   q5_1  d = (max − min) / 31, m = min, q = trunc((x − min)/d + 0.5)
//   iq4_nl  the scale searched over 15 candidates, each value to the nearest table level
//
// Each function reads x[xs .. xs+32) and writes one block at out[o ..].
import { IQ4_NL_VALUES } from '../../reference/quants-legacy.js';
import { GROUP_MAX_EPS, signedAbsMax, writeHalf } from './scale-search.js';

const f = Math.fround;

function minMax(x: Float32Array, xs: number): { min: number; max: number } {
  let min = Infinity, max = -Infinity;
  for (let j = 0; j < 32; j++) {
    min = Math.min(min, x[xs + j]);
    max = Math.max(max, x[xs + j]);
  }
  return { min, max };
}

// 32 integers q (0..31) as nibbles at out[qs..qs+16) and, with qh, their fifth bits as
// the little-endian u32 at out[qh..qh+4).
function packQuants(q: ArrayLike<number>, out: Uint8Array, qs: number, qh?: number): void {
  let high = 0;
  for (let j = 0; j < 16; j++) {
    out[qs + j] = (q[j] & 0x0f) | ((q[j + 16] & 0x0f) << 4);
    high |= ((q[j] >> 4) & 1) << j;
    high |= ((q[j + 16] >> 4) & 1) << (j + 16);
  }
  if (qh === undefined) return;
  for (let b = 0; b < 4; b++) out[qh + b] = (high >>> (8 * b)) & 0xff;
}

export function quantizeBlockQ4_1(x: Float32Array, xs: number, out: Uint8Array, o: number): void {
  const { min, max } = minMax(x, xs);
  const d = f(f(max - min) / 15);
  const id = d ? f(1 / d) : 0;
  writeHalf(out, o, d);
  writeHalf(out, o + 2, min);
  const q = Array.from({ length: 32 }, (_, j) => Math.min(15, Math.trunc(f(f(f(x[xs + j] - min) * id) + 0.5))));
  packQuants(q, out, o + 4);
}

export function quantizeBlockQ5_0(x: Float32Array, xs: number, out: Uint8Array, o: number): void {
  const d = f(signedAbsMax(x, xs, 32) / -16);
  const id = d ? f(1 / d) : 0;
  writeHalf(out, o, d);
  const q = Array.from({ length: 32 }, (_, j) => Math.min(31, Math.trunc(f(f(x[xs + j] * id) + 16.5))));
  packQuants(q, out, o + 6, o + 2);
}

export function quantizeBlockQ5_1(x: Float32Array, xs: number, out: Uint8Array, o: number): void {
  const { min, max } = minMax(x, xs);
  const d = f(f(max - min) / 31);
  const id = d ? f(1 / d) : 0;
  writeHalf(out, o, d);
  writeHalf(out, o + 2, min);
  const q = Array.from({ length: 32 }, (_, j) => Math.trunc(f(f(f(x[xs + j] - min) * id) + 0.5)));
  packQuants(q, out, o + 8, o + 4);
}

// Index of the IQ4_NL level nearest to v (the lower one on ties, as ggml's best_index_int8).
export function nearestLevel(v: number): number {
  const levels = IQ4_NL_VALUES;
  if (v <= levels[0]) return 0;
  if (v >= levels[15]) return 15;
  let lo = 0, hi = 15;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (v < levels[mid]) hi = mid;
    else lo = mid;
  }
  return v - levels[hi - 1] < levels[hi] - v ? hi - 1 : hi;
}

// Σ w q x and Σ w q² (w = x²) for the levels nearest to id·x.
function levelFit(x: Float32Array, xs: number, id: number): { sumqx: number; sumq2: number } {
  let sumqx = 0, sumq2 = 0;
  for (let j = 0; j < 32; j++) {
    const xj = x[xs + j];
    const q = IQ4_NL_VALUES[nearestLevel(f(id * xj))];
    const wq = f(f(xj * xj) * q);
    sumqx = f(sumqx + f(wq * xj));
    sumq2 = f(sumq2 + f(wq * q));
  }
  return { sumqx, sumq2 };
}

// llama.cpp's quantize_iq4_nl (ntry 7): the least-squares scale for the levels nearest to
// x·127/max, then for the 15 inverse scales (k − 127)/max, k = −7..7, kept if better.
export function quantizeBlockIQ4_NL(x: Float32Array, xs: number, out: Uint8Array, o: number): void {
  const max = signedAbsMax(x, xs, 32);
  let d = 0;
  if (Math.abs(max) >= GROUP_MAX_EPS) {
    const first = levelFit(x, xs, f(1 / f(-max / IQ4_NL_VALUES[0])));
    d = first.sumq2 > 0 ? f(first.sumqx / first.sumq2) : 0;
    let best = f(d * first.sumqx);
    for (let k = -7; k <= 7; k++) {
      const { sumqx, sumq2 } = levelFit(x, xs, f((k + IQ4_NL_VALUES[0]) / max));
      if (sumq2 > 0 && f(sumqx * sumqx) > f(best * sumq2)) {
        d = f(sumqx / sumq2);
        best = f(d * sumqx);
      }
    }
  }
  writeHalf(out, o, d);
  const id = d ? f(1 / d) : 0;
  const q = Array.from({ length: 32 }, (_, j) => nearestLevel(f(id * x[xs + j])));
  packQuants(q, out, o + 2);
}
