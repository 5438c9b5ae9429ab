// Runs one WebGPU operation at a time (upload, one command buffer, read back) so that each
// shader can be checked against the reference kernel on its own.
import { requestGpu } from '../src/backends/webgpu/device.js';
import { Gpu, Recorder } from '../src/backends/webgpu/gpu.js';
import { GpuOps } from '../src/backends/webgpu/ops.js';

let shared: Promise<GpuOps> | undefined;
export function gpuOps(): Promise<GpuOps> {
  shared ??= requestGpu().then((ctx) => new GpuOps(new Gpu(ctx)));
  return shared;
}

// Records with `record`, then reads `out` back as floats.
export async function runOnGpu(ops: GpuOps, out: GPUBuffer, floats: number, record: (rec: Recorder) => void): Promise<Float32Array> {
  const rec = new Recorder(ops.gpu);
  record(rec);
  return new Float32Array(await ops.gpu.submitAndRead(rec.end(), out, 0, floats * 4));
}

// Normalized mean squared error Σ(a − b)² / Σ b², as llama.cpp's test-backend-ops reports it.
export function nmse(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return den === 0 ? num : num / den;
}

export function randomArray(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s / 2 ** 32) * 2 - 1) * scale;
  }
  return out;
}
