/// <reference types="@webgpu/types" />
// The forward pass's operations on the GPU: each records one or more dispatches of its shader
// (shaders.ts, shaders-matmul.ts) into a Recorder, on buffers that stay on the GPU. The
// shapes are the kernel interface's (reference/kernels.ts); T, and pos0 where it matters,
// come from a `step` uniform written once per forward call.
import { rowBytes, type DType, type WeightTensor } from '../../../reference/tensor.js';
import { Gpu, grid, Recorder } from './gpu.js';
import { ADD, ARGMAX, ATTENTION, RMSNORM, ROPE, SWIGLU } from './shaders.js';
import { matmulShader } from './shaders-matmul.js';

// A weight matrix on the GPU in its file's storage type, split by rows into parts that each
// fit one binding (and one dispatch dimension).
export interface GpuWeight {
  name: string;
  dtype: DType;
  rows: number;
  cols: number;
  parts: { buffer: GPUBuffer; row0: number; rows: number }[];
}

// Uploads a weight tensor once, as stored (no F32 copy). `maxBindingBytes` lowers the split
// size below the device's limit (tests use it to exercise the split).
export function uploadWeight(gpu: Gpu, name: string, w: WeightTensor, maxBindingBytes = gpu.limits.maxStorageBufferBindingSize): GpuWeight {
  matmulShader(w.dtype); // refuses a storage type without a shader, before any upload
  const bytesPerRow = rowBytes(w.dtype, w.cols);
  const limit = Math.min(maxBindingBytes, gpu.limits.maxStorageBufferBindingSize, gpu.limits.maxBufferSize);
  if (bytesPerRow > limit) {
    throw new Error(`WebGPU: one row of ${name} (${bytesPerRow} bytes) exceeds this device's maxStorageBufferBindingSize of ${limit}; use --backend wasm`);
  }
  const rowsPerPart = Math.min(Math.floor(limit / bytesPerRow), gpu.limits.maxComputeWorkgroupsPerDimension);
  const parts: GpuWeight['parts'] = [];
  for (let row0 = 0; row0 < w.rows; row0 += rowsPerPart) {
    const rows = Math.min(rowsPerPart, w.rows - row0);
    const bytes = new Uint8Array(w.data.buffer, w.data.byteOffset + row0 * bytesPerRow, rows * bytesPerRow);
    parts.push({ buffer: gpu.upload(`${name} rows ${row0}..${row0 + rows - 1}`, bytes), row0, rows });
  }
  return { name, dtype: w.dtype, rows: w.rows, cols: w.cols, parts };
}

// cos and sin of pos · θ_i for positions 0..positions-1 and pairs i < hd/2, where freqs [hd/2]
// holds θ_i (reference/rope.ts ropeFrequencies: θ^(-2i/hd), divided by any scaling factor),
// computed in float64 and stored [pos, i, (cos, sin)] for the rope shader.
export function ropeTable(positions: number, freqs: Float64Array): Float32Array {
  const pairs = freqs.length;
  const table = new Float32Array(positions * pairs * 2);
  for (let pos = 0; pos < positions; pos++) {
    for (let i = 0; i < pairs; i++) {
      const angle = pos * freqs[i];
      table[(pos * pairs + i) * 2] = Math.cos(angle);
      table[(pos * pairs + i) * 2 + 1] = Math.sin(angle);
    }
  }
  return table;
}

export class GpuOps {
  private readonly uniforms = new Map<string, GPUBuffer>();

  constructor(readonly gpu: Gpu) {}

  // The uniform of one forward call: T tokens from position pos0.
  step(T: number, pos0: number): GPUBuffer {
    return this.gpu.uniform([T, pos0]);
  }

  // Static parameters, made once per distinct value.
  params(values: number[], floats: number[] = []): GPUBuffer {
    const key = `${values.join(',')}/${floats.join(',')}`;
    let b = this.uniforms.get(key);
    if (!b) this.uniforms.set(key, (b = this.gpu.uniform(values, floats)));
    return b;
  }

  run(rec: Recorder, what: string, code: string, buffers: GPUBuffer[], dims: [number, number?]): void {
    const pipeline = this.gpu.pipeline(code);
    rec.dispatch(what, pipeline, this.gpu.bindGroup(pipeline, buffers), dims);
  }

  // out[T, N] = x[T, K] · Wᵀ, one dispatch per part of W
  matmul(rec: Recorder, out: GPUBuffer, x: GPUBuffer, w: GpuWeight, T: number): void {
    const code = matmulShader(w.dtype, this.gpu.shaderF16);
    for (const part of w.parts) {
      this.run(rec, `matmul ${w.name}`, code, [this.params([w.cols, w.rows, part.row0, part.rows]), x, part.buffer, out], [part.rows, T]);
    }
  }

  rmsnorm(rec: Recorder, out: GPUBuffer, x: GPUBuffer, gain: GPUBuffer, T: number, C: number, eps: number): void {
    this.run(rec, 'rmsnorm', RMSNORM, [this.params([C, eps], [1]), x, gain, out], [T]);
  }

  // x [T, nHeads*hd] rotated in place, with a ropeTable covering positions up to pos0+T
  rope(rec: Recorder, step: GPUBuffer, x: GPUBuffer, table: GPUBuffer, T: number, nHeads: number, hd: number): void {
    this.run(rec, 'rope', ROPE, [step, this.params([nHeads, hd]), table, x], grid(this.gpu.limits, (T * nHeads * hd) / 2));
  }

  // scores: scratch of T * nHeads * S floats, S ≥ pos0 + T
  attention(
    rec: Recorder, step: GPUBuffer, out: GPUBuffer, q: GPUBuffer, k: GPUBuffer, v: GPUBuffer, scores: GPUBuffer,
    T: number, nHeads: number, nKvHeads: number, hd: number, S: number,
  ): void {
    const p = this.params([nHeads, nKvHeads, hd, S, 1 / Math.sqrt(hd)], [4]);
    this.run(rec, 'attention', ATTENTION, [step, p, q, k, v, scores, out], [nHeads, T]);
  }

  // gate[T, H] ← silu(gate) ⊙ up
  swiglu(rec: Recorder, step: GPUBuffer, gate: GPUBuffer, up: GPUBuffer, T: number, H: number): void {
    this.run(rec, 'swiglu', SWIGLU, [step, this.params([H]), gate, up], grid(this.gpu.limits, T * H));
  }

  // h[T, C] += y
  add(rec: Recorder, step: GPUBuffer, h: GPUBuffer, y: GPUBuffer, T: number, C: number): void {
    this.run(rec, 'add', ADD, [step, this.params([C]), h, y], grid(this.gpu.limits, T * C));
  }

  // result[0] = argmax of logits[0..n)
  argmax(rec: Recorder, result: GPUBuffer, logits: GPUBuffer, n: number): void {
    this.run(rec, 'argmax', ARGMAX, [this.params([n]), logits, result], [1]);
  }
}
