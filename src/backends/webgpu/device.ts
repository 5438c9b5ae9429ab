/// <reference types="@webgpu/types" />
// Getting a WebGPU device, and the limits every binding is checked against before dispatch.
//
// In a browser the device comes from navigator.gpu; in Node from the `webgpu` package (Dawn),
// loaded by a dynamic import whose name is a variable, so that no bundle ever pulls it in.
// The device asks for the adapter's own storage limits (the default device gets 128 MiB
// bindings even where the adapter has more). A binding larger than the device allows can
// give silently wrong output on some drivers, so every one is checked here and refused with
// an Error naming the limit, and suggesting --backend wasm.

export interface GpuContext {
  device: GPUDevice;
  limits: GPUSupportedLimits;
  adapterName: string;
  shaderF16: boolean; // the device has WGSL's f16 type: F16 weights are read as f16 (shaders-matmul.ts)
}

// Whether to use the `shader-f16` feature: 'auto' where the adapter has it, 'on' requires it
// (an Error where the adapter lacks it), 'off' never (F16 weights are unpacked to f32 from u32).
export type ShaderF16Choice = 'auto' | 'on' | 'off';

let nodeGpu: GPU | undefined;

const SUGGESTION = 'use --backend wasm (or backend: "wasm") instead';

async function gpuEntry(): Promise<GPU> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return nav.gpu;
  if (typeof process === 'undefined' || !process.versions?.node) {
    throw new Error(`WebGPU is not available in this runtime (no navigator.gpu); ${SUGGESTION}`);
  }
  const name = 'webgpu'; // Dawn for Node, an optional dependency
  let dawn: { create(flags: string[]): GPU; globals: Record<string, unknown> };
  try {
    dawn = await import(/* @vite-ignore */ name);
  } catch (e) {
    throw new Error(`WebGPU in Node needs the optional package "webgpu" (Dawn), which did not load: ${(e as Error).message}; ${SUGGESTION}`);
  }
  Object.assign(globalThis, dawn.globals); // GPUBufferUsage, GPUMapMode, ...
  // Kept for the life of the process: Dawn's instance must outlive every device made from it
  // (collected, it takes the device's threads down mid-call).
  nodeGpu ??= dawn.create([]);
  return nodeGpu;
}

// The device, with the adapter's largest storage limits. No adapter is an Error, never a fallback.
export async function requestGpu(shaderF16: ShaderF16Choice = 'auto'): Promise<GpuContext> {
  const gpu = await gpuEntry();
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    throw new Error(`WebGPU found no adapter (no GPU, or no driver; in Node on Linux Dawn needs Vulkan, e.g. SwiftShader via VK_ICD_FILENAMES); ${SUGGESTION}`);
  }
  const a = adapter.limits;
  const hasF16 = adapter.features.has('shader-f16');
  if (shaderF16 === 'on' && !hasF16) {
    throw new Error('WebGPU: shaderF16 "on" asks for the shader-f16 feature, which this adapter does not have; use shaderF16 "auto" or "off"');
  }
  const useF16 = hasF16 && shaderF16 !== 'off';
  const device = await adapter.requestDevice({
    requiredFeatures: useF16 ? ['shader-f16'] : [],
    requiredLimits: {
      maxStorageBufferBindingSize: a.maxStorageBufferBindingSize,
      maxBufferSize: a.maxBufferSize,
    },
  });
  const info = (adapter as { info?: GPUAdapterInfo }).info;
  return { device, limits: device.limits, shaderF16: useF16, adapterName: info ? `${info.vendor} ${info.architecture} ${info.description}`.trim() : 'unknown adapter' };
}

// Bindings' sizes in bytes must fit the device; `what` names the tensor or buffer.
export function checkBinding(limits: GPUSupportedLimits, what: string, bytes: number): void {
  if (bytes > limits.maxStorageBufferBindingSize) {
    throw new Error(`WebGPU: ${what} needs a ${bytes}-byte storage binding, over this device's maxStorageBufferBindingSize of ${limits.maxStorageBufferBindingSize}; ${SUGGESTION}`);
  }
  if (bytes > limits.maxBufferSize) {
    throw new Error(`WebGPU: ${what} needs a ${bytes}-byte buffer, over this device's maxBufferSize of ${limits.maxBufferSize}; ${SUGGESTION}`);
  }
}

// Workgroup counts per dimension are limited too (65535 by default).
export function checkWorkgroups(limits: GPUSupportedLimits, what: string, ...counts: number[]): void {
  for (const n of counts) {
    if (n > limits.maxComputeWorkgroupsPerDimension) {
      throw new Error(`WebGPU: ${what} needs ${n} workgroups in one dimension, over this device's maxComputeWorkgroupsPerDimension of ${limits.maxComputeWorkgroupsPerDimension}; ${SUGGESTION}`);
    }
  }
}
