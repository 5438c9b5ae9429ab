/// <reference types="@webgpu/types" />
// The WebGPU backend: LLaMA inference with the weights, the KV cache and every activation on
// the GPU.
//
// How it fits the kernel interface (reference/kernels.ts). That interface is synchronous and
// model.ts calls it once per operation, handing over Float32Arrays; a GPU wants the opposite:
// one command buffer per forward pass, data that never leaves the device, and one awaited
// readback. So this backend implements the interface's optional `forwardAsync` (the whole
// step, same contract as reference/model.ts forward) and `createKVCache` (a cache whose
// buffers live on the GPU, so nothing is allocated in JavaScript), and callers that can await
// (generation, via runForward in reference/model.ts) use it. The per-operation methods
// exist on the GPU as recorders (ops.ts), each checked against the reference kernel in
// tests/webgpu-kernels.test.ts; called synchronously here they throw, rather than silently
// running something else.
import type { LlamaConfig } from '../../../reference/config.js';
import type { ForwardAsyncOptions, Kernels } from '../../../reference/kernels.js';
import type { KVCache } from '../../../reference/model.js';
import type { LlamaModel } from '../../../reference/weights.js';
import { requestGpu, type ShaderF16Choice } from './device.js';
import { GpuModel } from './forward.js';
import { Gpu } from './gpu.js';
import { GpuOps } from './ops.js';
import { gpuTraining } from './train.js';
import type { DeviceTraining } from '../../conform/dump.js';

export interface WebGpuKernels extends Kernels {
  readonly adapterName: string;
  readonly shaderF16: boolean; // whether F16 weights are read as WGSL f16
  forwardAsync(model: LlamaModel, cache: KVCache, tokens: ArrayLike<number>, pos0: number, options?: ForwardAsyncOptions): Promise<Float32Array>;
  // Greedy decoding with the argmax taken on the GPU: 4 bytes read back instead of the logits.
  forwardArgmax(cache: KVCache, tokens: ArrayLike<number>, pos0: number): Promise<number>;
  createKVCache(config: LlamaConfig, capacity?: number): KVCache;
  // Gradients and AdamW steps of one sequence on the GPU (train.ts), for conform --self;
  // throws unless every weight is f32.
  deviceTraining(): DeviceTraining;
  close(): Promise<void>;
}

export interface WebGpuKernelsOptions {
  batch?: number; // prompt tokens per command buffer (default 32)
  shaderF16?: ShaderF16Choice; // F16 weights read as WGSL f16 where the adapter allows (default 'auto'; device.ts)
}

function synchronousCall(op: string): never {
  throw new Error(`the webgpu backend runs whole forward passes asynchronously (kernels.forwardAsync); it has no synchronous ${op}: use --backend wasm or ts for per-operation calls`);
}

// Uploads the model's weights to the GPU once; throws naming the limit when a tensor or
// buffer does not fit the device.
export async function createWebGpuKernels(model: LlamaModel, options: WebGpuKernelsOptions = {}): Promise<WebGpuKernels> {
  const gpu = new Gpu(await requestGpu(options.shaderF16));
  const batch = options.batch ?? 32;
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`webgpu batch must be a positive integer, got ${batch}`);
  const ops = new GpuOps(gpu);
  const gpuModel = new GpuModel(ops, model, batch);
  const ownModel = (m: LlamaModel): void => {
    if (m !== model) throw new Error('these webgpu kernels hold another model\'s weights: make kernels for each model');
  };
  return {
    name: 'webgpu',
    adapterName: gpu.adapterName,
    shaderF16: gpu.shaderF16,
    matmul: () => synchronousCall('matmul'),
    rmsnorm: () => synchronousCall('rmsnorm'),
    rope: () => synchronousCall('rope'),
    attention: () => synchronousCall('attention'),
    swiglu: () => synchronousCall('swiglu'),
    forwardAsync(m, cache, tokens, pos0, opts) {
      ownModel(m);
      return gpuModel.forward(cache, tokens, pos0, opts);
    },
    forwardArgmax: (cache, tokens, pos0) => gpuModel.forwardArgmax(cache, tokens, pos0),
    createKVCache(config, capacity = config.maxSeqLen) {
      if (capacity > config.maxSeqLen) throw new Error(`KV cache of ${capacity} positions exceeds the model's context of ${config.maxSeqLen}`);
      return { capacity, k: [], v: [] }; // its buffers are made on the GPU at first use
    },
    deviceTraining: () => gpuTraining(ops, model),
    async close() {
      gpu.device.destroy();
    },
  };
}
