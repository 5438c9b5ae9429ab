// WGSL for the forward pass's other operations, one shader per operation, each mirroring a
// reference function. `Step` is the one uniform that changes from call to call: T tokens at
// positions pos0 .. pos0+T-1. Elementwise shaders use 64 invocations a workgroup and a 2-D
// grid (index = x + y · 64 · groups in x) so that more than 65535 workgroups' worth of values
// fit; reductions use one workgroup of 64 per row (see shaders-matmul.ts for why 64).
import { WORKGROUP_SUM } from './shaders-matmul.js';

const STEP = /* wgsl */ `struct Step { T: u32, pos0: u32 }`;
const FLAT_INDEX = /* wgsl */ `fn flatIndex(g: vec3u, n: vec3u) -> u32 { return g.x + g.y * n.x * 64u; }`;

// y = x / sqrt(mean(x²) + eps) ⊙ g   (reference/rmsnorm.ts); workgroup t normalizes row t.
export const RMSNORM = /* wgsl */ `
struct Params { C: u32, eps: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gain: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
${WORKGROUP_SUM}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) tid: u32) {
  let o = wg.x * p.C;
  var ss = 0.0;
  for (var c = tid; c < p.C; c += 64u) { ss += x[o + c] * x[o + c]; }
  let inv = 1.0 / sqrt(workgroupSum(tid, ss) / f32(p.C) + p.eps);
  for (var c = tid; c < p.C; c += 64u) { out[o + c] = x[o + c] * inv * gain[c]; }
}
`;

// (x[2i], x[2i+1]) ← (x0 cos φ − x1 sin φ, x0 sin φ + x1 cos φ), φ = pos · θ_i
// (reference/rope.ts), in place. cos φ and sin φ come from a table [positions, hd/2, 2]
// computed once in float64 on the CPU (rope-table.ts): exact angles at any position, where
// a shader's cos of a large argument is not, and the one place where per-pair frequency
// factors (RoPE scaling) enter. One invocation rotates one pair of one head of one row.
export const ROPE = rotatePairsShader('');

// The backward (reference/rope.ts ropeBackward) is the rotation by −φ: the same shader with
// sin(−φ) = −sin φ, on the gradient in place (shaders-train.ts names it ROPE_BACKWARD).
export function rotatePairsShader(sinSign: '' | '-'): string {
  return /* wgsl */ `
${STEP}
struct Params { nHeads: u32, hd: u32 }
@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> table: array<vec2f>;
@group(0) @binding(3) var<storage, read_write> x: array<f32>;
${FLAT_INDEX}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3u, @builtin(num_workgroups) n: vec3u) {
  let pairs = p.hd / 2u;
  let idx = flatIndex(g, n);
  if (idx >= step.T * p.nHeads * pairs) { return; }
  let i = idx % pairs;
  let t = idx / (pairs * p.nHeads);
  let cs = table[(step.pos0 + t) * pairs + i];
  let s = ${sinSign}cs.y;
  let j = 2u * idx; // pairs lie in order: row t, head h, pair i
  let x0 = x[j];
  let x1 = x[j + 1u];
  x[j] = x0 * cs.x - x1 * s;
  x[j + 1u] = x0 * s + x1 * cs.x;
}
`;
}

// attn_h(t) = Σ_{s ≤ pos0+t} softmax_s(q_h(t) · k_g(s) / √hd) v_g(s), g = ⌊h / (nHeads/nKvHeads)⌋
// (reference/attention.ts), over the KV cache on the GPU. Workgroup (h, t): its invocations
// score every 64th visible position into `scores` (a [T, nHeads, S] scratch buffer), take the
// max and the sum of exponentials across the workgroup, then each writes every 64th output
// dimension.
export const ATTENTION = /* wgsl */ `
${STEP}
struct Params { nHeads: u32, nKvHeads: u32, hd: u32, S: u32, scale: f32 }
@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> q: array<f32>;
@group(0) @binding(3) var<storage, read> kCache: array<f32>;
@group(0) @binding(4) var<storage, read> vCache: array<f32>;
@group(0) @binding(5) var<storage, read_write> scores: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;
var<workgroup> best: array<f32, 64>;
${WORKGROUP_SUM}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) tid: u32) {
  let h = wg.x;
  let t = wg.y;
  let visible = step.pos0 + t + 1u;
  let kvDim = p.nKvHeads * p.hd;
  let qo = (t * p.nHeads + h) * p.hd;
  let kvo = (h / (p.nHeads / p.nKvHeads)) * p.hd;
  let so = (t * p.nHeads + h) * p.S;
  var m = -3.4e38;
  for (var s = tid; s < visible; s += 64u) {
    var dot = 0.0;
    for (var i = 0u; i < p.hd; i++) { dot += q[qo + i] * kCache[s * kvDim + kvo + i]; }
    scores[so + s] = dot * p.scale;
    m = max(m, dot * p.scale);
  }
  best[tid] = m;
  workgroupBarrier();
  for (var r = 32u; r > 0u; r = r >> 1u) {
    if (tid < r) { best[tid] = max(best[tid], best[tid + r]); }
    workgroupBarrier();
  }
  let mx = best[0];
  var sum = 0.0;
  for (var s = tid; s < visible; s += 64u) {
    let e = exp(scores[so + s] - mx);
    scores[so + s] = e;
    sum += e;
  }
  let total = workgroupSum(tid, sum);
  storageBarrier();
  for (var i = tid; i < p.hd; i += 64u) {
    var acc = 0.0;
    for (var s = 0u; s < visible; s++) { acc += scores[so + s] * vCache[s * kvDim + kvo + i]; }
    out[qo + i] = acc / total;
  }
}
`;

// out[i] = silu(gate[i]) · up[i], silu(x) = x · σ(x)   (reference/swiglu.ts), n = T · H
export const SWIGLU = /* wgsl */ `
${STEP}
struct Params { width: u32 }
@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read_write> gate: array<f32>;
@group(0) @binding(3) var<storage, read> up: array<f32>;
${FLAT_INDEX}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3u, @builtin(num_workgroups) n: vec3u) {
  let i = flatIndex(g, n);
  if (i >= step.T * p.width) { return; }
  let v = gate[i];
  gate[i] = v / (1.0 + exp(-v)) * up[i];
}
`;

// The residual connection h += y (reference/model.ts), n = T · C
export const ADD = /* wgsl */ `
${STEP}
struct Params { width: u32 }
@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read_write> h: array<f32>;
@group(0) @binding(3) var<storage, read> y: array<f32>;
${FLAT_INDEX}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3u, @builtin(num_workgroups) n: vec3u) {
  let i = flatIndex(g, n);
  if (i >= step.T * p.width) { return; }
  h[i] = h[i] + y[i];
}
`;

// The index of the largest of n logits, the first on ties (src/generate/sampler.ts argmax),
// for greedy decoding that reads back 4 bytes instead of the logits. One workgroup of 64.
export const ARGMAX = /* wgsl */ `
struct Params { n: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> result: array<u32>;
var<workgroup> bestValue: array<f32, 64>;
var<workgroup> bestIndex: array<u32, 64>;
@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) tid: u32) {
  var v = -3.4e38;
  var k = 0xffffffffu;
  for (var i = tid; i < p.n; i += 64u) {
    if (logits[i] > v || k == 0xffffffffu) { v = logits[i]; k = i; }
  }
  bestValue[tid] = v;
  bestIndex[tid] = k;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s = s >> 1u) {
    if (tid < s) {
      let ov = bestValue[tid + s];
      let ok = bestIndex[tid + s];
      if (ok != 0xffffffffu && (ov > bestValue[tid] || (ov == bestValue[tid] && ok < bestIndex[tid]) || bestIndex[tid] == 0xffffffffu)) {
        bestValue[tid] = ov;
        bestIndex[tid] = ok;
      }
    }
    workgroupBarrier();
  }
  if (tid == 0u) { result[0] = bestIndex[0]; }
}
`;
