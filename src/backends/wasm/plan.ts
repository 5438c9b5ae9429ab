// Which WASM memory (shard) holds which layer, for a model that may not fit in one.
//
// A shard holds, after the module's static data:
//   weights     the seven matrices of each of its layers (and, in the last shard, the classifier)
//   KV cache    2 × [contextLength, kvDim] f32 per layer, next to the layer that reads it
//   scratch     the activations of one kernel call, copied in (reserved, see scratchBytes)
// Layers are packed in order, greedily: shard s holds layers a..b, shard s+1 holds b+1..,
// so the forward pass crosses each shard boundary once. The token embedding is read by the
// JavaScript side (one row per token) and stays out of WASM memory unless it is also the
// classifier (a shared classifier), or the loader reads it there (direct-load.ts, then
// `embedding`: it goes first in the first shard).
//
// Only shapes and storage types are needed (a LlamaModel, or a file's layout before any
// weight is read).
import { headDim, kvDim, type LlamaConfig } from '../../../reference/config.js';
import { LAYER_MATRICES, type LayerMatrix, type LayerWeights } from '../../../reference/weights.js';
import { alignUp } from './heap.js';
import { wasmTensorBytes, type TensorShape } from './weights.js';

// What planning reads of a model: its config and the shape and dtype of every matrix.
export interface ModelShapes {
  config: LlamaConfig;
  weights: { tokenEmbedding: TensorShape; output: TensorShape; layers: Pick<{ [K in keyof LayerWeights]: TensorShape }, LayerMatrix>[] };
}

const ALIGN = 64; // every heap allocation starts on a cache line
const SLACK = 64 * 1024; // alignment and rounding to pages

export interface ShardPlan {
  layerShard: number[]; // [L] shard of layer l (its weights and KV cache)
  outputShard: number; // shard of the classifier
  shardBytes: number[]; // [shards] bytes planned in each, scratch reserve included
  shards: number;
  embeddingShard?: number; // shard of a separate token embedding, when `embedding` was asked
}

export interface PlanLimits {
  capacityBytes: number; // usable bytes per memory (its maximum less the static data)
  contextLength: number; // KV cache positions
  threads: number; // each needs its own attention scores scratch
  embedding?: boolean; // plan room for the token embedding too (when not the classifier)
}

// Weights and KV cache of layer l in bytes, aligned as the heap places them.
export function layerBytes(model: ModelShapes, l: number, contextLength: number): number {
  const layer = model.weights.layers[l];
  const weights = LAYER_MATRICES.reduce((sum, m) => sum + alignUp(wasmTensorBytes(layer[m]), ALIGN), 0);
  return weights + 2 * alignUp(4 * contextLength * kvDim(model.config), ALIGN);
}

// The most scratch one kernel call can take: every activation of the call copied in, for
// T up to the context length (a whole-context prompt), plus the classifier's [T, V] when
// the shard holds it (all logits of a prompt, as dump does). The arena grows in place, so
// this is the peak, not a sum over calls.
export function scratchBytes(c: LlamaConfig, contextLength: number, threads: number, withOutput: boolean): number {
  const T = contextLength;
  const C = c.dim, H = c.hiddenDim, Q = c.nHeads * headDim(c), KV = kvDim(c);
  const floats = Math.max(
    T * (C + Q), T * (C + KV), T * (Q + C), T * (C + H), T * (H + C), // matmuls: x and out
    2 * T * Q + threads * contextLength, // attention: q, out, one scores row per thread
    3 * T * H, // swiglu: gate, up, out
    2 * T * C + C, // rmsnorm
    withOutput ? T * (C + c.vocabSize) : 0, // classifier
  );
  return alignUp(4 * floats, ALIGN) + 8 * ALIGN;
}

export function planShards(model: ModelShapes, limits: PlanLimits): ShardPlan {
  const { capacityBytes, contextLength, threads } = limits;
  const c = model.config;
  const { tokenEmbedding, output } = model.weights;
  const outputBytes = alignUp(wasmTensorBytes(output), ALIGN);
  const reserve = scratchBytes(c, contextLength, threads, false) + SLACK;
  const outputReserve = scratchBytes(c, contextLength, threads, true) + SLACK;
  const separateEmbedding = limits.embedding === true && tokenEmbedding !== output;
  const embeddingBytes = separateEmbedding ? alignUp(wasmTensorBytes(tokenEmbedding), ALIGN) : 0;
  if (reserve + embeddingBytes > capacityBytes) {
    throw new Error(`wasm kernels: the token embedding needs ${mib(embeddingBytes)} with ${mib(reserve)} of scratch, more than one WASM memory of ${mib(capacityBytes)} holds`);
  }
  const layerShard: number[] = [];
  const shardBytes: number[] = [reserve + embeddingBytes];
  for (let l = 0; l < c.nLayers; l++) {
    const bytes = layerBytes(model, l, contextLength);
    if (reserve + bytes > capacityBytes) {
      throw new Error(
        `wasm kernels: layer ${l} needs ${mib(bytes)} (weights and a KV cache of ${contextLength} positions) plus ` +
          `${mib(reserve)} of scratch, more than one WASM memory of ${mib(capacityBytes)} holds; use a shorter context`,
      );
    }
    const s = shardBytes.length - 1;
    if (shardBytes[s] + bytes > capacityBytes && shardBytes[s] > reserve) shardBytes.push(reserve + bytes);
    else shardBytes[s] += bytes;
    layerShard.push(shardBytes.length - 1);
  }
  // The classifier goes after the last layer, in the same shard if it fits.
  let last = shardBytes.length - 1;
  const withOutput = shardBytes[last] - reserve + outputReserve + outputBytes;
  if (withOutput <= capacityBytes) {
    shardBytes[last] = withOutput;
  } else {
    if (outputReserve + outputBytes > capacityBytes) {
      throw new Error(`wasm kernels: the classifier needs ${mib(outputBytes + outputReserve)} with its scratch, more than one WASM memory of ${mib(capacityBytes)} holds`);
    }
    shardBytes.push(outputReserve + outputBytes);
    last++;
  }
  return { layerShard, outputShard: last, shardBytes, shards: shardBytes.length, embeddingShard: separateEmbedding ? 0 : undefined };
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
