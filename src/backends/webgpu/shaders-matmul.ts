// WGSL for the matrix multiply out[T, N] = x[T, K] · Wᵀ (reference/matmul.ts), one shader per
// storage type of W. The weights are bound exactly as the file stores them: F32 as
// array<f32>; F16, Q8_0 and Q4_0 as array<u32> read by byte offset and decoded in the shader
// (reference/quants-legacy.ts), so a quantized model takes its file size on the GPU.
//
// One workgroup computes one output value out[t, row0 + r] (workgroup_id = (r, t)): its 64
// invocations split the K inputs (F32/F16: every 64th value; Q8_0/Q4_0: every 64th block of
// 32), then sum their partial dot products in workgroup memory by halving. 64 is a multiple
// of every vendor's SIMD width (32 on NVIDIA, 64 on AMD) and within the 256 invocations
// every device allows. A tensor larger than one binding is split by rows into parts; each
// part is one dispatch that writes its rows at row0.
import type { DType } from '../../../reference/tensor.js';

export const MATMUL_WORKGROUP = 64;

// Shared by every shader that reads bytes from an array<u32> named `w`.
export const BYTE_READERS = /* wgsl */ `
fn byteAt(b: u32) -> u32 { return (w[b >> 2u] >> ((b & 3u) * 8u)) & 0xffu; }
fn int8At(b: u32) -> f32 { return f32(bitcast<i32>(byteAt(b) << 24u) >> 24u); }
fn halfAt(b: u32) -> f32 { return unpack2x16float(byteAt(b) | (byteAt(b + 1u) << 8u)).x; }
`;

// Sums partial[0..64) into partial[0]; every invocation must call it.
export const WORKGROUP_SUM = /* wgsl */ `
var<workgroup> partial: array<f32, 64>;
fn workgroupSum(tid: u32, v: f32) -> f32 {
  partial[tid] = v;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s = s >> 1u) {
    if (tid < s) { partial[tid] += partial[tid + s]; }
    workgroupBarrier();
  }
  let total = partial[0];
  workgroupBarrier();
  return total;
}
`;

// The dot product of input row t with weight row r (of this part), per storage type.
const DOT: Partial<Record<DType, { w: string; body: string }>> = {
  // F32: plain floats.
  f32: {
    w: 'array<f32>',
    body: `for (var k = tid; k < p.K; k += 64u) { acc += x[xo + k] * w[r * p.K + k]; }`,
  },
  // F16: two halves per u32, the lower index in the low 16 bits (little-endian).
  f16: {
    w: 'array<u32>',
    body: `for (var k = tid; k < p.K; k += 64u) {
      let e = r * p.K + k;
      acc += x[xo + k] * unpack2x16float(w[e >> 1u])[e & 1u];
    }`,
  },
  // Q8_0, 34-byte blocks: d f16 | q int8[32];  x = d · q
  q8_0: {
    w: 'array<u32>',
    body: `let nb = p.K / 32u;
    for (var b = tid; b < nb; b += 64u) {
      let o = (r * nb + b) * 34u;
      var s = 0.0;
      for (var j = 0u; j < 32u; j++) { s += x[xo + b * 32u + j] * int8At(o + 2u + j); }
      acc += halfAt(o) * s;
    }`,
  },
  // Q4_0, 18-byte blocks: d f16 | qs[16], byte j = value j (low nibble), value j+16 (high);
  // x = d · (q − 8)
  q4_0: {
    w: 'array<u32>',
    body: `let nb = p.K / 32u;
    for (var b = tid; b < nb; b += 64u) {
      let o = (r * nb + b) * 18u;
      let xb = xo + b * 32u;
      var s = 0.0;
      for (var j = 0u; j < 16u; j++) {
        let q = byteAt(o + 2u + j);
        s += x[xb + j] * (f32(q & 15u) - 8.0) + x[xb + j + 16u] * (f32(q >> 4u) - 8.0);
      }
      acc += halfAt(o) * s;
    }`,
  },
};

// F16 on a device with the shader-f16 feature: the halves bound as array<f16> and read
// directly, no unpacking (device.ts decides; without the feature, the u32 path above).
const F16_NATIVE = {
  w: 'array<f16>',
  body: `for (var k = tid; k < p.K; k += 64u) { acc += x[xo + k] * f32(w[r * p.K + k]); }`,
};

export const MATMUL_DTYPES = Object.keys(DOT) as DType[];

export function matmulShader(dtype: DType, shaderF16 = false): string {
  const d = dtype === 'f16' && shaderF16 ? F16_NATIVE : DOT[dtype];
  if (!d) throw new Error(`WebGPU matmul: no shader for ${dtype} weights (it has ${MATMUL_DTYPES.join(', ')}); use --backend wasm`);
  return /* wgsl */ `${d === F16_NATIVE ? 'enable f16;' : ''}
// out[t, row0 + r] = Σ_k x[t, k] · W[r, k]   (reference/matmul.ts), W stored as ${dtype}${d === F16_NATIVE ? ', read as f16' : ''}
struct Params { K: u32, N: u32, row0: u32, rows: u32 }  // input width, output width, first row, rows in this part
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: ${d.w};
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
${d.w === 'array<u32>' ? BYTE_READERS : ''}
${WORKGROUP_SUM}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) tid: u32) {
  let r = wg.x;
  let t = wg.y;
  let xo = t * p.K;
  var acc = 0.0;
  ${d.body}
  let total = workgroupSum(tid, acc);
  if (tid == 0u) { out[t * p.N + p.row0 + r] = total; }
}
`;
}
