// Weight tensors in WASM memory: each uploaded once, in its file storage type (f32, f16
// halves, q8_0 / q4_0 blocks — the kernels decode them on the fly) or, for a type without
// WASM kernels, decoded to f16 (widen.ts); found again by the identity of its data array.
// Weights are taken to be immutable once a kernel has seen them.
import { rowBytes, type DType, type WeightTensor } from '../../../reference/tensor.js';
import { LAYER_MATRICES, type LlamaModel } from '../../../reference/weights.js';
import type { WasmHeap } from './heap.js';
import { hasWasmMatmul, widenTensor } from './widen.js';

// A weight's storage type and shape, without its data.
export type TensorShape = Pick<WeightTensor, 'dtype' | 'rows' | 'cols'>;

// Bytes a tensor's data must hold for its dtype and shape (throws for a quantized row
// that is not whole blocks).
export function tensorBytes(w: TensorShape): number {
  if (!Number.isSafeInteger(w.rows) || !Number.isSafeInteger(w.cols) || w.rows <= 0 || w.cols <= 0) {
    throw new Error(`wasm kernels: weight tensor has a bad shape [${w.rows}, ${w.cols}]`);
  }
  return w.rows * rowBytes(w.dtype, w.cols);
}

// The type a tensor has in WASM memory: its own, or f16 for a type without kernels.
export function wasmDType(dtype: DType): DType {
  return hasWasmMatmul(dtype) ? dtype : 'f16';
}

// Bytes a tensor takes in WASM memory (what planning counts).
export function wasmTensorBytes(w: TensorShape): number {
  tensorBytes(w); // checks the shape in its own type
  return tensorBytes({ ...w, dtype: wasmDType(w.dtype) });
}

// Every distinct weight tensor of a model (the shared classifier counted once).
export function modelTensors(model: LlamaModel): WeightTensor[] {
  const { weights } = model;
  const all = [weights.tokenEmbedding, weights.output];
  for (const layer of weights.layers) for (const m of LAYER_MATRICES) all.push(layer[m]);
  return [...new Set(all)];
}

export class WeightStore {
  private readonly pointers = new WeakMap<ArrayBufferView, number>(); // data array -> byte offset

  constructor(private readonly heap: WasmHeap) {}

  // Byte offset of the tensor's data in WASM memory, uploading it the first time.
  pointer(w: WeightTensor): number {
    const known = this.pointers.get(w.data);
    if (known !== undefined) return known;
    const bytes = tensorBytes(w);
    const what = `${w.dtype} weight [${w.rows}, ${w.cols}]`;
    if (w.data.byteLength < bytes) {
      throw new Error(`wasm kernels: ${what} needs ${bytes} bytes of data, has ${w.data.byteLength}`);
    }
    let ptr: number;
    if (this.heap.owns(w.data) && hasWasmMatmul(w.dtype)) {
      ptr = w.data.byteOffset; // already in WASM memory (e.g. a loader that read the file there)
    } else {
      const stored = widenTensor(w); // w itself, or its f16 decoding
      const storedBytes = tensorBytes(stored);
      ptr = this.heap.alloc(storedBytes, 'weights', stored === w ? what : `${what} as f16`);
      this.heap.u8().set(new Uint8Array(stored.data.buffer, stored.data.byteOffset, storedBytes), ptr);
    }
    this.pointers.set(w.data, ptr);
    return ptr;
  }

  // Uploads every tensor of a model now; when the model cannot fit, throws before
  // uploading anything, naming the sizes.
  uploadModel(model: LlamaModel): void {
    const pending = modelTensors(model).filter((w) => !this.pointers.has(w.data) && !this.heap.owns(w.data));
    const total = pending.reduce((sum, w) => sum + wasmTensorBytes(w) + 64, 0); // + alignment
    this.heap.checkFits(total, `the weights of this model (${pending.length} tensors)`);
    for (const w of pending) this.pointer(w);
  }
}
