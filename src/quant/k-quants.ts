// Float32 -> K-quant super-blocks of 256 values, as ggml's reference quantizers do it
// without an importance matrix (ggml-quants.c quantize_row_q*_K_ref): per sub-block a
// searched scale (and min) (scale-search.ts), the sub-block scales quantized to 6 bits
// (4 for Q2_K, 8 for Q6_K) against one half per super-block, then every value rounded
// again against the scale as it will be decoded. Block layouts: reference/quants-k.ts.
//
// Each function reads x[xs .. xs+256) and writes one block at out[o ..].
import { QK_K, scaleMinK4, scaleQ3_K } from '../../reference/quants-k.js';
import { clamp, nearestInt, scaleAndMin, signedAbsMax, signedScale, signedScaleQ3, writeHalf, GROUP_MAX_EPS } from './scale-search.js';

const f = Math.fround;

// Packs 2-bit integers L[0..256) as 2-bit planes (quants-k.ts) into 64 bytes at out[o].
function packTwoBitPlanes(L: ArrayLike<number>, out: Uint8Array, o: number): void {
  for (let h = 0; h < 2; h++) {
    for (let l = 0; l < 32; l++) {
      const v = 128 * h + l;
      out[o + 32 * h + l] = L[v] | (L[v + 32] << 2) | (L[v + 64] << 4) | (L[v + 96] << 6);
    }
  }
}

// Packs 4-bit integers L[0..256) as nibble pairs (quants-k.ts) into 128 bytes at out[o].
function packNibblePairs(L: ArrayLike<number>, out: Uint8Array, o: number): void {
  for (let c = 0; c < 4; c++) {
    for (let l = 0; l < 32; l++) out[o + 32 * c + l] = (L[64 * c + l] & 0x0f) | ((L[64 * c + 32 + l] & 0x0f) << 4);
  }
}

// The 6-bit scales ls[8] and mins lm[8] of Q4_K/Q5_K into the 12 bytes at out[o].
function packScalesK4(ls: ArrayLike<number>, lm: ArrayLike<number>, out: Uint8Array, o: number): void {
  out.fill(0, o, o + 12);
  for (let j = 0; j < 8; j++) {
    if (j < 4) {
      out[o + j] = ls[j];
      out[o + j + 4] = lm[j];
    } else {
      out[o + j + 4] = (ls[j] & 0x0f) | ((lm[j] & 0x0f) << 4);
      out[o + j - 4] |= (ls[j] >> 4) << 6;
      out[o + j] |= (lm[j] >> 4) << 6;
    }
  }
}

// --- Q2_K, Q4_K, Q5_K: scale and min per sub-block ------------------------------------------

// The sub-block fits of one super-block: scales[j], mins[j] and integers L (scale-search.ts).
function fitSubBlocks(
  x: Float32Array, xs: number, size: number, nmax: number, L: Uint8Array,
  weightsOf: (x: Float32Array, start: number, w: Float32Array) => void,
  search: { rmin: number; rdelta: number; nstep: number; mad: boolean },
): { scales: Float32Array; mins: Float32Array } {
  const count = QK_K / size;
  const scales = new Float32Array(count);
  const mins = new Float32Array(count);
  const weights = new Float32Array(size);
  const Laux = new Uint8Array(size);
  for (let j = 0; j < count; j++) {
    weightsOf(x, xs + size * j, weights);
    const fit = scaleAndMin(x, xs + size * j, size, nmax, weights, L, size * j, Laux, search);
    scales[j] = fit.scale;
    mins[j] = fit.min;
  }
  return { scales, mins };
}

// Q4_K/Q5_K weigh each value by the sub-block's RMS plus its own magnitude.
function rmsPlusAbs(x: Float32Array, start: number, w: Float32Array): void {
  let sumX2 = 0;
  for (let l = 0; l < 32; l++) sumX2 = f(sumX2 + f(x[start + l] * x[start + l]));
  const av = f(Math.sqrt(f(sumX2 / 32)));
  for (let l = 0; l < 32; l++) w[l] = f(av + Math.abs(x[start + l]));
}

function maxOf(a: Float32Array): number {
  let m = 0;
  for (const v of a) if (v > m) m = v;
  return m;
}

// Q4_K and Q5_K alike: 8 sub-blocks of 32, 6-bit scales and mins; then the final integers
// (0..nmax) against the decoded scales. Writes d, dmin and the scale bytes at out[o..o+16).
function quantizeScaleMinK4(x: Float32Array, xs: number, out: Uint8Array, o: number, nmax: number, search: { rmin: number; rdelta: number; nstep: number; mad: boolean }): Uint8Array {
  const L = new Uint8Array(QK_K);
  const { scales, mins } = fitSubBlocks(x, xs, 32, nmax, L, rmsPlusAbs, search);
  const maxScale = maxOf(scales), maxMin = maxOf(mins);
  const invScale = maxScale > 0 ? f(63 / maxScale) : 0;
  const invMin = maxMin > 0 ? f(63 / maxMin) : 0;
  const ls = scales.map((s) => Math.min(63, nearestInt(f(invScale * s)) & 0xff));
  const lm = mins.map((m) => Math.min(63, nearestInt(f(invMin * m)) & 0xff));
  packScalesK4(ls, lm, out, o + 4);
  const d = writeHalf(out, o, f(maxScale / 63));
  const dmin = writeHalf(out, o + 2, f(maxMin / 63));
  for (let j = 0; j < 8; j++) {
    const { sc, m } = scaleMinK4(out, o + 4, j);
    const dl = f(d * sc);
    if (!dl) continue;
    const ml = f(dmin * m);
    for (let i = 0; i < 32; i++) L[32 * j + i] = clamp(nearestInt(f(f(x[xs + 32 * j + i] + ml) / dl)), 0, nmax);
  }
  return L;
}

export function quantizeBlockQ4_K(x: Float32Array, xs: number, out: Uint8Array, o: number): void {
  const L = quantizeScaleMinK4(x, xs, out, o, 15, { rmin: -1, rdelta: 0.1, nstep: 20, mad: false });
  packNibblePairs(L, out, o + 16);
}

export function quantizeBlockQ5_K(x: Float32Array, xs: number, out: Uint8Array, o: number): void {
  const L = quantizeScaleMinK4(x, xs, out, o, 31, { rmin: -0.5, rdelta: 0.1, nstep: 15, mad: false });
  out.fill(0, o + 16, o + 48);
  for (let v = 0; v < QK_K; v++) if (L[v] > 15) out[o + 16 + (v & 31)] |= 1 << (v >> 5); // the fifth bit
  packNibblePairs(L, out, o + 48);
}

export function quantizeBlockQ2_K(x: Float32Array, xs: number, out: Uint8Array, o: number): void {
  const L = new Uint8Array(QK_K);
  const absWeights = (v: Float32Array, start: number, w: Float32Array) => {
    for (let l = 0; l < 16; l++) w[l] = Math.abs(v[start + l]);
  };
  const { scales, mins } = fitSubBlocks(x, xs, 16, 3, L, absWeights, { rmin: -0.5, rdelta: 0.1, nstep: 15, mad: true });
  const maxScale = maxOf(scales), maxMin = maxOf(mins);
  // scales[16] at o: sub-block scale in the low nibble, min in the high one, 4 bits each
  for (let j = 0; j < 16; j++) out[o + j] = maxScale > 0 ? nearestInt(f(f(15 / maxScale) * scales[j])) & 0xff : 0;
  const d = writeHalf(out, o + 80, maxScale > 0 ? f(maxScale / 15) : 0);
  if (maxMin > 0) {
    for (let j = 0; j < 16; j++) out[o + j] |= (nearestInt(f(f(15 / maxMin) * mins[j])) << 4) & 0xff;
  }
  const dmin = writeHalf(out, o + 82, maxMin > 0 ? f(maxMin / 15) : 0);
  for (let j = 0; j < 16; j++) {
    const dl = f(d * (out[o + j] & 0x0f));
    if (!dl) continue;
    const ml = f(dmin * (out[o + j] >> 4));
    for (let i = 0; i < 16; i++) L[16 * j + i] = clamp(nearestInt(f(f(x[xs + 16 * j + i] + ml) / dl)), 0, 3);
  }
  packTwoBitPlanes(L, out, o + 16);
}

// --- Q3_K, Q6_K: signed scale per sub-block -------------------------------------------------

export function quantizeBlockQ3_K(x: Float32Array, xs: number, out: Uint8Array, o: number): void {
  const L = new Int8Array(QK_K); // 0..7 (q + 4)
  const scales = new Float32Array(16);
  for (let j = 0; j < 16; j++) scales[j] = signedScaleQ3(x, xs + 16 * j, 16, 4, L, 16 * j);
  const maxScale = signedAbsMax(scales, 0, 16);
  out.fill(0, o + 96, o + 108);
  let d = 0;
  if (maxScale) {
    const iscale = f(-32 / maxScale);
    for (let j = 0; j < 16; j++) {
      const l = clamp((nearestInt(f(iscale * scales[j])) << 24) >> 24, -32, 31) + 32; // 6 bits
      if (j < 8) out[o + 96 + j] = l & 0x0f;
      else out[o + 96 + j - 8] |= (l & 0x0f) << 4;
      out[o + 96 + 8 + (j % 4)] |= (l >> 4) << (2 * (j >> 2));
    }
    d = writeHalf(out, o + 108, f(1 / iscale));
  } else {
    writeHalf(out, o + 108, 0);
  }
  for (let j = 0; j < 16; j++) {
    const dl = f(d * (scaleQ3_K(out, o + 96, j) - 32));
    if (!dl) continue;
    for (let i = 0; i < 16; i++) L[16 * j + i] = clamp(nearestInt(f(x[xs + 16 * j + i] / dl)), -4, 3) + 4;
  }
  // the third bit to hmask (a set bit: q ≥ 4), the low two to the 2-bit planes
  out.fill(0, o, o + 32);
  for (let v = 0; v < QK_K; v++) {
    if (L[v] > 3) {
      out[o + (v & 31)] |= 1 << (v >> 5);
      L[v] -= 4;
    }
  }
  packTwoBitPlanes(L, out, o + 32);
}

export function quantizeBlockQ6_K(x: Float32Array, xs: number, out: Uint8Array, o: number): void {
  const L = new Int8Array(QK_K); // 0..63 (q + 32)
  const scales = new Float32Array(16);
  for (let j = 0; j < 16; j++) scales[j] = signedScale(x, xs + 16 * j, 16, 32, L, 16 * j);
  const maxScale = signedAbsMax(scales, 0, 16);
  if (Math.abs(maxScale) < GROUP_MAX_EPS) {
    out.fill(0, o, o + 210); // all zero, d = 0
    return;
  }
  const iscale = f(-128 / maxScale);
  const d = writeHalf(out, o + 208, f(1 / iscale));
  for (let j = 0; j < 16; j++) out[o + 192 + j] = Math.min(127, nearestInt(f(iscale * scales[j]))) & 0xff;
  for (let j = 0; j < 16; j++) {
    const dl = f(d * ((out[o + 192 + j] << 24) >> 24));
    if (!dl) continue;
    for (let i = 0; i < 16; i++) L[16 * j + i] = clamp(nearestInt(f(x[xs + 16 * j + i] / dl)), -32, 31) + 32;
  }
  // low nibbles: ql[64h + 32·(r & 1) + l], low for quarters r < 2, high for r ≥ 2;
  // high 2 bits: qh[32h + l] bits 2r (quants-k.ts)
  for (let h = 0; h < 2; h++) {
    for (let l = 0; l < 32; l++) {
      const q = (r: number) => L[128 * h + 32 * r + l];
      out[o + 64 * h + l] = (q(0) & 0x0f) | ((q(2) & 0x0f) << 4);
      out[o + 64 * h + 32 + l] = (q(1) & 0x0f) | ((q(3) & 0x0f) << 4);
      out[o + 128 + 32 * h + l] = (q(0) >> 4) | ((q(1) >> 4) << 2) | ((q(2) >> 4) << 4) | ((q(3) >> 4) << 6);
    }
  }
}

// --- Q8_K: one float32 scale, int8 values, sums by 16 ---------------------------------------

export function quantizeBlockQ8_K(x: Float32Array, xs: number, out: Uint8Array, o: number): void {
  const view = new DataView(out.buffer, out.byteOffset + o, 292);
  const max = signedAbsMax(x, xs, QK_K);
  if (!max) {
    out.fill(0, o, o + 292);
    return;
  }
  const iscale = f(-127 / max);
  const q = new Int8Array(QK_K);
  for (let v = 0; v < QK_K; v++) q[v] = Math.min(127, nearestInt(f(iscale * x[xs + v])));
  view.setFloat32(0, f(1 / iscale), true);
  for (let v = 0; v < QK_K; v++) view.setInt8(4 + v, q[v]);
  for (let j = 0; j < 16; j++) {
    let sum = 0;
    for (let i = 0; i < 16; i++) sum += q[16 * j + i];
    view.setInt16(260 + 2 * j, sum, true);
  }
}
