// A model file read straight into WASM memory (Node): only the header is parsed in
// JavaScript (formats/load-header.ts, every check the in-memory loader makes, before any
// memory is planned); the shards are planned from the shapes (plan.ts); then each matrix
// is allocated in its shard's heap ('weights' region) and its bytes are read from the file
// into that memory, through a Uint8Array view of it. No second copy of the weights exists:
// the model's WeightTensors are views of WASM memory, which the kernels use in place and
// from which the forward pass reads the embedding rows. Resident memory is the weights, the
// KV cache and a little.
//
// The norm gains (a few KiB) are plain Float32Arrays. GGUF and llama2.c files only; Hugging
// Face folders go through the in-memory loader and createModelKernels (a copy).
import { closeSync, fstatSync, openSync } from 'node:fs';
import type { WeightTensor } from '../../../reference/tensor.js';
import { LAYER_MATRICES, type LlamaModel } from '../../../reference/weights.js';
import { readModelFileLayout, type ModelFileLayout } from '../../formats/load-header.js';
import { gainBytes, gainFromBytes, mapLayout, type GainSpec, type MatrixSpec, type ModelLayout } from '../../formats/tensor-layout.js';
import { readAt } from '../../io/read-file.js';
import { createPlannedKernels, type ModelKernelsOptions, type WasmKernels } from './kernels.js';
import type { ShardPlan } from './plan.js';
import type { Shard } from './shard.js';
import { decodeToF16, widenLayout, type WidenedLayout } from './widen.js';

export interface FileModelKernels {
  model: LlamaModel; // matrices: views of the kernels' WASM memories
  kernels: WasmKernels;
  file: ModelFileLayout; // format, size, and the GGUF metadata (e.g. its vocabulary)
}

// Reads the header, then the weights into the memories of new kernels.
export async function createModelKernelsFromFile(path: string, options: ModelKernelsOptions = {}): Promise<FileModelKernels> {
  const file = readModelFileLayout(path);
  return { ...(await loadFileIntoKernels(file, options)), file };
}

// The weights of a file whose header was read (readModelFileLayout), into new kernels.
export async function loadFileIntoKernels(file: ModelFileLayout, options: ModelKernelsOptions = {}): Promise<{ model: LlamaModel; kernels: WasmKernels }> {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
    throw new Error(`${file.path}: reading weights straight into WASM memory needs a little-endian host`);
  }
  const fd = openSync(file.path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size !== file.size) throw new Error(`${file.path}: the file changed after its header was read: ${file.size} bytes, now ${size}`);
    const widened = widenLayout(file.layout); // types without WASM kernels: f16 in memory
    const loaded = await createPlannedKernels(widened.layout, { ...options, embedding: true }, (shards, plan) => readWeights(fd, file, widened, shards, plan));
    loaded.kernels.notes.push(...widened.notes);
    return loaded;
  } finally {
    closeSync(fd);
  }
}

// The model, each matrix read into the memory of the shard the plan gives it (decoded to
// f16 on the way when its file type has no WASM kernels).
function readWeights(fd: number, file: ModelFileLayout, widened: WidenedLayout, shards: readonly Shard[], plan: ShardPlan): LlamaModel {
  const home = shardOfEachMatrix(widened.layout, shards, plan);
  return mapLayout(
    widened.layout,
    (m) => {
      const source = widened.source.get(m);
      return source ? readWidenedMatrix(fd, source, home.get(m)!, file.path) : readMatrix(fd, m, home.get(m)!, file.path);
    },
    (g) => readGain(fd, g, file.path),
  );
}

function shardOfEachMatrix(layout: ModelLayout, shards: readonly Shard[], plan: ShardPlan): Map<MatrixSpec, Shard> {
  const w = layout.weights;
  const home = new Map<MatrixSpec, Shard>();
  home.set(w.tokenEmbedding, shards[plan.embeddingShard ?? 0]);
  w.layers.forEach((layer, l) => {
    for (const m of LAYER_MATRICES) home.set(layer[m], shards[plan.layerShard[l]]);
  });
  home.set(w.output, shards[plan.outputShard]); // after the embedding: a shared classifier lives here
  return home;
}

// Allocates the matrix in the shard's heap and reads its bytes there from the file.
function readMatrix(fd: number, m: MatrixSpec, shard: Shard, path: string): WeightTensor {
  const ptr = shard.heap.alloc(m.byteLength, 'weights', `${m.dtype} weight ${m.name} [${m.rows}, ${m.cols}]`);
  const buffer = shard.heap.buffer(); // after alloc: it may have grown the memory
  readAt(fd, new Uint8Array(buffer, ptr, m.byteLength), m.offset, path);
  const n = m.rows * m.cols;
  const data =
    m.dtype === 'f32' ? new Float32Array(buffer, ptr, n) // [rows, cols]
    : m.dtype === 'f16' ? new Uint16Array(buffer, ptr, n) // [rows, cols] half bits
    : new Uint8Array(buffer, ptr, m.byteLength); // [rows, cols / 32] blocks (q8_0, q4_0)
  return { dtype: m.dtype, rows: m.rows, cols: m.cols, data };
}

// A matrix of a type without WASM kernels: its file bytes read into JavaScript memory (one
// matrix at a time, at most its size in the file), decoded to f16 in the shard's heap.
function readWidenedMatrix(fd: number, m: MatrixSpec, shard: Shard, path: string): WeightTensor {
  const n = m.rows * m.cols;
  const ptr = shard.heap.alloc(2 * n, 'weights', `${m.dtype} weight ${m.name} [${m.rows}, ${m.cols}] as f16`);
  const bytes = new Uint8Array(m.byteLength); // [rows, cols / block] blocks of the file's type
  readAt(fd, bytes, m.offset, path);
  const data = new Uint16Array(shard.heap.buffer(), ptr, n); // [rows, cols] half bits
  decodeToF16(m, bytes, data);
  return { dtype: 'f16', rows: m.rows, cols: m.cols, data };
}

// A norm gain [C] as float32, in JavaScript memory.
function readGain(fd: number, g: GainSpec, path: string): Float32Array {
  const bytes = new Uint8Array(gainBytes(g));
  readAt(fd, bytes, g.offset, path);
  return gainFromBytes(bytes, g, g.offset);
}
