// One WASM memory and what lives in it: the main thread's instance of the kernels over it,
// its heap (weights, views, scratch) and the weights placed there. A model normally needs
// one shard; one larger than a wasm32 memory gets several (plan.ts).
import { PAGE_BYTES, ScratchArena, WASM32_MAX_BYTES, WasmHeap } from './heap.js';
import type { KernelExports } from './abi.js';
import { instantiateKernels } from './module.js';
import { WeightStore } from './weights.js';

export class Shard {
  readonly heap: WasmHeap;
  readonly scratch: ScratchArena;
  readonly weights: WeightStore;

  constructor(readonly index: number, readonly memory: WebAssembly.Memory, readonly wasm: KernelExports, maxBytes: number) {
    this.heap = new WasmHeap(memory, wasm.heapBase(), maxBytes);
    this.scratch = new ScratchArena(this.heap);
    this.weights = new WeightStore(this.heap);
  }

  // Is this array a view of this shard's memory (used in place, without a copy)?
  owns(a: ArrayBufferView): boolean {
    return this.heap.owns(a);
  }
}

export function checkMaxBytes(maxBytes: number): number {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < PAGE_BYTES || maxBytes > WASM32_MAX_BYTES) {
    throw new Error(`wasm kernels: maxMemoryBytes must be between ${PAGE_BYTES} and ${WASM32_MAX_BYTES}, got ${maxBytes}`);
  }
  return Math.floor(maxBytes / PAGE_BYTES) * PAGE_BYTES;
}

// A fresh shared memory of at most maxBytes (whole pages) with an instance over it.
export async function createShard(module: WebAssembly.Module, index: number, maxBytes: number): Promise<Shard> {
  const maximum = checkMaxBytes(maxBytes) / PAGE_BYTES;
  const memory = new WebAssembly.Memory({ initial: Math.min(16, maximum), maximum, shared: true });
  return new Shard(index, memory, await instantiateKernels(module, memory), maximum * PAGE_BYTES);
}
