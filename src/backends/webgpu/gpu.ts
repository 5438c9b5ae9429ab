/// <reference types="@webgpu/types" />
// The small layer over a GPUDevice that the kernels use: pipelines compiled once per shader,
// buffers checked against the device's limits, and a recorder that puts a whole forward pass
// (dispatches and buffer copies) into one command buffer, read back once.
import { checkBinding, checkWorkgroups, type GpuContext } from './device.js';

export type Dispatch = [x: number, y?: number];

export class Gpu {
  readonly device: GPUDevice;
  readonly limits: GPUSupportedLimits;
  readonly adapterName: string;
  readonly shaderF16: boolean;
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private lost: string | undefined;

  constructor(ctx: GpuContext) {
    this.device = ctx.device;
    this.limits = ctx.limits;
    this.adapterName = ctx.adapterName;
    this.shaderF16 = ctx.shaderF16;
    void this.device.lost.then((info) => {
      this.lost = info.message || String(info.reason);
    });
  }

  // A compute pipeline for a WGSL source, compiled on first use (entry point `main`).
  pipeline(code: string): GPUComputePipeline {
    let p = this.pipelines.get(code);
    if (!p) {
      p = this.device.createComputePipeline({ layout: 'auto', compute: { module: this.device.createShaderModule({ code }), entryPoint: 'main' } });
      this.pipelines.set(code, p);
    }
    return p;
  }

  // A storage buffer of `bytes` (rounded up to 4), checked against the binding limits.
  storage(what: string, bytes: number, extraUsage = 0): GPUBuffer {
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    checkBinding(this.limits, what, size);
    return this.device.createBuffer({ label: what, size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC | extraUsage });
  }

  // A storage buffer holding these bytes (padded to whole u32 words with zeros).
  upload(what: string, data: ArrayBufferView): GPUBuffer {
    const buffer = this.storage(what, data.byteLength);
    const bytes = new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
    const whole = bytes.byteLength & ~3;
    if (whole > 0) this.device.queue.writeBuffer(buffer, 0, bytes, 0, whole);
    if (whole < bytes.byteLength) {
      const tail = new Uint8Array(4);
      tail.set(bytes.subarray(whole));
      this.device.queue.writeBuffer(buffer, whole, tail);
    }
    return buffer;
  }

  // A uniform buffer of 32-bit fields; each value is written as u32 unless listed in `floats`.
  uniform(values: number[], floats: number[] = []): GPUBuffer {
    const words = new ArrayBuffer(Math.max(16, Math.ceil((values.length * 4) / 16) * 16));
    const u = new Uint32Array(words);
    const f = new Float32Array(words);
    values.forEach((v, i) => (floats.includes(i) ? (f[i] = v) : (u[i] = v)));
    const buffer = this.device.createBuffer({ size: words.byteLength, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    this.device.queue.writeBuffer(buffer, 0, u);
    return buffer;
  }

  bindGroup(pipeline: GPUComputePipeline, buffers: GPUBuffer[]): GPUBindGroup {
    return this.device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
  }

  // Runs one command buffer and reads `bytes` of `source` back: the only wait of a step.
  async submitAndRead(encoder: GPUCommandEncoder, source: GPUBuffer, offset: number, bytes: number): Promise<ArrayBuffer> {
    if (this.lost !== undefined) throw new Error(`WebGPU: the device was lost (${this.lost}); load the model again, or use --backend wasm`);
    const staging = this.device.createBuffer({ size: Math.ceil(bytes / 4) * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    encoder.copyBufferToBuffer(source, offset, staging, 0, staging.size);
    this.device.pushErrorScope('validation');
    this.device.queue.submit([encoder.finish()]);
    const error = await this.device.popErrorScope();
    if (error) throw new Error(`WebGPU: ${error.message}`);
    await staging.mapAsync(GPUMapMode.READ);
    const out = staging.getMappedRange().slice(0, bytes);
    staging.unmap();
    staging.destroy();
    return out;
  }
}

// Records dispatches into one command encoder, opening a compute pass as needed and closing
// it around buffer copies (which live outside passes). WebGPU orders the dispatches and makes
// each one's writes visible to the next.
export class Recorder {
  readonly encoder: GPUCommandEncoder;
  private pass: GPUComputePassEncoder | undefined;

  constructor(private readonly gpu: Gpu) {
    this.encoder = gpu.device.createCommandEncoder();
  }

  dispatch(what: string, pipeline: GPUComputePipeline, group: GPUBindGroup, [x, y = 1]: Dispatch): void {
    checkWorkgroups(this.gpu.limits, what, x, y);
    this.pass ??= this.encoder.beginComputePass();
    this.pass.setPipeline(pipeline);
    this.pass.setBindGroup(0, group);
    this.pass.dispatchWorkgroups(x, y);
  }

  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.end();
    this.encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  // Zeroes a buffer (gradients accumulate, so each step starts from zero).
  clear(buffer: GPUBuffer): void {
    this.end();
    this.encoder.clearBuffer(buffer);
  }

  end(): GPUCommandEncoder {
    this.pass?.end();
    this.pass = undefined;
    return this.encoder;
  }
}

// Workgroups of 64 for n elementwise invocations, as a 2-D grid (shaders.ts flatIndex).
export function grid(limits: GPUSupportedLimits, n: number): Dispatch {
  const groups = Math.max(1, Math.ceil(n / 64));
  const maxX = limits.maxComputeWorkgroupsPerDimension;
  return groups <= maxX ? [groups, 1] : [maxX, Math.ceil(groups / maxX)];
}
