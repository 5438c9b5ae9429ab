// WGSL for training: the backward of each forward operation, the loss, and AdamW, one shader
// per operation (two where one op writes two outputs with different reductions), each
// mirroring a reference function. Gradients ACCUMULATE (+=) as in reference/kernels.ts
// TrainingKernels; the caller clears them. Training weights are f32.
//
// Layout: elementwise shaders and the "one output value per invocation" reductions use
// workgroups of 64 on a 2-D grid (flatIndex, as in shaders.ts; gpu.ts grid()) with a bounds
// check, so any size works, multiples of 64 or not. Each invocation owns its output value:
// no two write the same address, so no atomics. Row reductions (RMSNorm, softmax) use one
// workgroup of 64 per row and workgroupSum (shaders-matmul.ts).
import { WORKGROUP_SUM } from './shaders-matmul.js';
import { rotatePairsShader } from './shaders.js';

const FLAT_INDEX = /* wgsl */ `fn flatIndex(g: vec3u, n: vec3u) -> u32 { return g.x + g.y * n.x * 64u; }`;

// dx[t, k] += Σ_n dout[t, n] · W[n, k]   (reference/matmul.ts matmulBackward, input half);
// one invocation per (t, k), looping over the N outputs.
export const MATMUL_BACKWARD_INPUT = /* wgsl */ `
struct Params { T: u32, N: u32, K: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dout: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
${FLAT_INDEX}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3u, @builtin(num_workgroups) n: vec3u) {
  let idx = flatIndex(g, n);
  if (idx >= p.T * p.K) { return; }
  let t = idx / p.K;
  let k = idx % p.K;
  var acc = 0.0;
  for (var j = 0u; j < p.N; j++) { acc += dout[t * p.N + j] * w[j * p.K + k]; }
  dx[idx] += acc;
}
`;

// dW[n, k] += Σ_t dout[t, n] · x[t, k]   (reference/matmul.ts matmulBackward, weight half);
// one invocation per weight (n, k), looping over the T rows.
export const MATMUL_BACKWARD_WEIGHT = /* wgsl */ `
struct Params { T: u32, N: u32, K: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dout: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> dw: array<f32>;
${FLAT_INDEX}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3u, @builtin(num_workgroups) n: vec3u) {
  let idx = flatIndex(g, n);
  if (idx >= p.N * p.K) { return; }
  let j = idx / p.K;
  let k = idx % p.K;
  var acc = 0.0;
  for (var t = 0u; t < p.T; t++) { acc += dout[t * p.N + j] * x[t * p.K + k]; }
  dw[idx] += acc;
}
`;

// dx_i += r g_i dy_i − (r³ / C) · x_i · Σ_j dy_j g_j x_j,  r = (mean(x²) + eps)^(−1/2)
// (reference/rmsnorm.ts rmsnormBackward, input half); workgroup t does row t and leaves r in
// rinv[t] for the gain's half below.
export const RMSNORM_BACKWARD_INPUT = /* wgsl */ `
struct Params { C: u32, eps: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dout: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> gain: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;
@group(0) @binding(5) var<storage, read_write> rinv: array<f32>;
${WORKGROUP_SUM}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) tid: u32) {
  let o = wg.x * p.C;
  var ss = 0.0;
  var dot = 0.0;
  for (var c = tid; c < p.C; c += 64u) {
    ss += x[o + c] * x[o + c];
    dot += dout[o + c] * gain[c] * x[o + c];
  }
  let r = 1.0 / sqrt(workgroupSum(tid, ss) / f32(p.C) + p.eps);
  let k = r * r * r * workgroupSum(tid, dot) / f32(p.C);
  for (var c = tid; c < p.C; c += 64u) { dx[o + c] += r * gain[c] * dout[o + c] - k * x[o + c]; }
  if (tid == 0u) { rinv[wg.x] = r; }
}
`;

// dg_c += Σ_t dy[t, c] · x[t, c] · r_t   (rmsnormBackward, gain half), r_t from the input
// half; one invocation per column c.
export const RMSNORM_BACKWARD_GAIN = /* wgsl */ `
struct Params { T: u32, C: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dout: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> rinv: array<f32>;
@group(0) @binding(4) var<storage, read_write> dgain: array<f32>;
${FLAT_INDEX}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3u, @builtin(num_workgroups) n: vec3u) {
  let c = flatIndex(g, n);
  if (c >= p.C) { return; }
  var acc = 0.0;
  for (var t = 0u; t < p.T; t++) { acc += dout[t * p.C + c] * x[t * p.C + c] * rinv[t]; }
  dgain[c] += acc;
}
`;

// (d0, d1) ← (d0 cos φ + d1 sin φ, −d0 sin φ + d1 cos φ), φ = pos · θ_i: the rotation by −φ
// (reference/rope.ts ropeBackward), in place, cos/sin from the forward's table (ops.ts
// ropeTable): the forward's shader with the sine negated (shaders.ts rotatePairsShader).
export const ROPE_BACKWARD = rotatePairsShader('-');

// Attention backward over one sequence at positions 0..T-1 (reference/attention.ts
// attentionBackward), query half: workgroup (h, t) recomputes p_ts = softmax_s(q_t·k_s/√hd)
// over s ≤ t, then dp_ts = dout_t·v_s, ds_ts = p_ts (dp_ts − Σ_s' p_ts' dp_ts') / √hd and
// dq_t += Σ_s ds_ts k_s. It leaves p and ds in [T, nHeads, T] scratch for the key/value half.
export const ATTENTION_BACKWARD_QUERY = /* wgsl */ `
struct Params { T: u32, nHeads: u32, nKvHeads: u32, hd: u32, scale: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dout: array<f32>;
@group(0) @binding(2) var<storage, read> q: array<f32>;
@group(0) @binding(3) var<storage, read> k: array<f32>;
@group(0) @binding(4) var<storage, read> v: array<f32>;
@group(0) @binding(5) var<storage, read_write> probs: array<f32>;
@group(0) @binding(6) var<storage, read_write> dscores: array<f32>;
@group(0) @binding(7) var<storage, read_write> dq: array<f32>;
var<workgroup> best: array<f32, 64>;
${WORKGROUP_SUM}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) tid: u32) {
  let h = wg.x;
  let t = wg.y;
  let kvDim = p.nKvHeads * p.hd;
  let qo = (t * p.nHeads + h) * p.hd;
  let kvo = (h / (p.nHeads / p.nKvHeads)) * p.hd;
  let so = (t * p.nHeads + h) * p.T;
  var m = -3.4e38;
  for (var s = tid; s <= t; s += 64u) {
    var dot = 0.0;
    for (var i = 0u; i < p.hd; i++) { dot += q[qo + i] * k[s * kvDim + kvo + i]; }
    probs[so + s] = dot * p.scale;
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
  for (var s = tid; s <= t; s += 64u) {
    let e = exp(probs[so + s] - mx);
    probs[so + s] = e;
    sum += e;
  }
  let total = workgroupSum(tid, sum);
  var pdp = 0.0;
  for (var s = tid; s <= t; s += 64u) {
    let ps = probs[so + s] / total;
    probs[so + s] = ps;
    var dp = 0.0;
    for (var i = 0u; i < p.hd; i++) { dp += dout[qo + i] * v[s * kvDim + kvo + i]; }
    dscores[so + s] = dp;
    pdp += ps * dp;
  }
  let pdpSum = workgroupSum(tid, pdp);
  for (var s = tid; s <= t; s += 64u) {
    dscores[so + s] = probs[so + s] * (dscores[so + s] - pdpSum) * p.scale;
  }
  storageBarrier();
  for (var i = tid; i < p.hd; i += 64u) {
    var acc = 0.0;
    for (var s = 0u; s <= t; s++) { acc += dscores[so + s] * k[s * kvDim + kvo + i]; }
    dq[qo + i] += acc;
  }
}
`;

// Attention backward, key/value half: dk_s += Σ_{h ∈ group} Σ_{t ≥ s} ds_ts q_t and
// dv_s += Σ_{h ∈ group} Σ_{t ≥ s} p_ts dout_t, from the query half's scratch. One invocation
// per (s, kv head, i) owns dk and dv there; the sums over heads and rows run in it.
export const ATTENTION_BACKWARD_KV = /* wgsl */ `
struct Params { T: u32, nHeads: u32, nKvHeads: u32, hd: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dout: array<f32>;
@group(0) @binding(2) var<storage, read> q: array<f32>;
@group(0) @binding(3) var<storage, read> probs: array<f32>;
@group(0) @binding(4) var<storage, read> dscores: array<f32>;
@group(0) @binding(5) var<storage, read_write> dk: array<f32>;
@group(0) @binding(6) var<storage, read_write> dv: array<f32>;
${FLAT_INDEX}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3u, @builtin(num_workgroups) n: vec3u) {
  let kvDim = p.nKvHeads * p.hd;
  let idx = flatIndex(g, n);
  if (idx >= p.T * kvDim) { return; }
  let s = idx / kvDim;
  let kvh = (idx % kvDim) / p.hd;
  let i = idx % p.hd;
  let group = p.nHeads / p.nKvHeads;
  var dkAcc = 0.0;
  var dvAcc = 0.0;
  for (var h = kvh * group; h < (kvh + 1u) * group; h++) {
    for (var t = s; t < p.T; t++) {
      let so = (t * p.nHeads + h) * p.T + s;
      let qo = (t * p.nHeads + h) * p.hd + i;
      dkAcc += dscores[so] * q[qo];
      dvAcc += probs[so] * dout[qo];
    }
  }
  dk[idx] += dkAcc;
  dv[idx] += dvAcc;
}
`;

// dgate += dout · u · σ(g) (1 + g (1 − σ(g))),  dup += dout · g σ(g)
// (reference/swiglu.ts swigluBackward), elementwise over n values.
export const SWIGLU_BACKWARD = /* wgsl */ `
struct Params { n: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dout: array<f32>;
@group(0) @binding(2) var<storage, read> gate: array<f32>;
@group(0) @binding(3) var<storage, read> up: array<f32>;
@group(0) @binding(4) var<storage, read_write> dgate: array<f32>;
@group(0) @binding(5) var<storage, read_write> dup: array<f32>;
${FLAT_INDEX}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3u, @builtin(num_workgroups) n: vec3u) {
  let i = flatIndex(g, n);
  if (i >= p.n) { return; }
  let x = gate[i];
  let sig = 1.0 / (1.0 + exp(-x));
  dgate[i] += dout[i] * up[i] * sig * (1.0 + x * (1.0 - sig));
  dup[i] += dout[i] * x * sig;
}
`;

// Mean cross-entropy and its backward (reference/cross-entropy.ts), workgroup t on row t:
//   loss[t] = max + log Σ_v exp(z_v − max) − z_target,  dlogits[t, v] += (p_v − [v = target]) / N
// N (the targets not ignored) is counted on the CPU; an ignored row (target −1) gets 0 and
// no gradient. The mean of loss[] is taken on the CPU, in float64.
export const CROSS_ENTROPY = /* wgsl */ `
struct Params { V: u32, invCount: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<i32>;
@group(0) @binding(3) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(4) var<storage, read_write> loss: array<f32>;
var<workgroup> best: array<f32, 64>;
${WORKGROUP_SUM}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) tid: u32) {
  let t = wg.x;
  let wanted = targets[t];
  // No early return for an ignored row: barriers must be reached by the whole workgroup in
  // control flow WGSL can prove uniform, and a value read from storage is not.
  let kept = wanted >= 0;
  let tgt = u32(max(wanted, 0));
  let o = t * p.V;
  var m = -3.4e38;
  for (var v = tid; v < p.V; v += 64u) { m = max(m, logits[o + v]); }
  best[tid] = m;
  workgroupBarrier();
  for (var r = 32u; r > 0u; r = r >> 1u) {
    if (tid < r) { best[tid] = max(best[tid], best[tid + r]); }
    workgroupBarrier();
  }
  let mx = best[0];
  var sum = 0.0;
  for (var v = tid; v < p.V; v += 64u) { sum += exp(logits[o + v] - mx); }
  let total = workgroupSum(tid, sum);
  if (kept) {
    for (var v = tid; v < p.V; v += 64u) {
      let prob = exp(logits[o + v] - mx) / total;
      dlogits[o + v] += (prob - select(0.0, 1.0, v == tgt)) * p.invCount;
    }
  }
  if (tid == 0u) { loss[t] = select(0.0, mx + log(total) - logits[o + tgt], kept); }
}
`;

// h[t] = E[token[t]]   (reference/embedding.ts embedding), one invocation per value of h.
export const EMBEDDING = /* wgsl */ `
struct Params { T: u32, C: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> table: array<f32>;
@group(0) @binding(2) var<storage, read> tokens: array<u32>;
@group(0) @binding(3) var<storage, read_write> h: array<f32>;
${FLAT_INDEX}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3u, @builtin(num_workgroups) n: vec3u) {
  let i = flatIndex(g, n);
  if (i >= p.T * p.C) { return; }
  h[i] = table[tokens[i / p.C] * p.C + i % p.C];
}
`;

// dE[token[t]] += dh[t]   (reference/embedding.ts embeddingBackward): a scatter-add where a
// token may repeat, so one invocation per column c walks the rows in order and owns dE[·, c].
export const EMBEDDING_BACKWARD = /* wgsl */ `
struct Params { T: u32, C: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dh: array<f32>;
@group(0) @binding(2) var<storage, read> tokens: array<u32>;
@group(0) @binding(3) var<storage, read_write> dtable: array<f32>;
${FLAT_INDEX}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3u, @builtin(num_workgroups) n: vec3u) {
  let c = flatIndex(g, n);
  if (c >= p.C) { return; }
  for (var t = 0u; t < p.T; t++) { dtable[tokens[t] * p.C + c] += dh[t * p.C + c]; }
}
`;

// sums[j] = Σ_i g_i², one parameter's share of the global gradient norm (reference/clip.ts
// gradNorm, which sums in float64; here float32 per parameter, the parameters summed in
// float64 on the CPU). One workgroup of 64.
export const SUM_OF_SQUARES = /* wgsl */ `
struct Params { n: u32, j: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> sums: array<f32>;
${WORKGROUP_SUM}
@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) tid: u32) {
  var ss = 0.0;
  for (var i = tid; i < p.n; i += 64u) { ss += grad[i] * grad[i]; }
  let total = workgroupSum(tid, ss);
  if (tid == 0u) { sums[p.j] = total; }
}
`;

// One AdamW step on one parameter (reference/adamw.ts adamwStep), with the gradient clipped
// by the global-norm factor `clip` (reference/clip.ts: 1 when the norm is within bounds):
//   g ← clip · g;  m ← β1 m + (1 − β1) g;  v ← β2 v + (1 − β2) g²
//   p ← p · decay − stepSize · m / (√v / vCorrection + eps)
// stepSize = lr / (1 − β1ᵗ), vCorrection = √(1 − β2ᵗ), decay = 1 − lr·wd (1 for norm gains),
// computed on the CPU in float64. Elementwise, n values.
export const ADAMW = /* wgsl */ `
struct Params { n: u32, beta1: f32, beta2: f32, eps: f32, stepSize: f32, vCorrection: f32, decay: f32, clip: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> value: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
${FLAT_INDEX}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3u, @builtin(num_workgroups) n: vec3u) {
  let i = flatIndex(g, n);
  if (i >= p.n) { return; }
  let gi = grad[i] * p.clip;
  let mi = p.beta1 * m[i] + (1.0 - p.beta1) * gi;
  let vi = p.beta2 * v[i] + (1.0 - p.beta2) * gi * gi;
  m[i] = mi;
  v[i] = vi;
  value[i] = value[i] * p.decay - p.stepSize * mi / (sqrt(vi) / p.vCorrection + p.eps);
}
`;
