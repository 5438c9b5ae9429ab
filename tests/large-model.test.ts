// Models larger than one WASM memory: split by layers over several memories (plan.ts),
// each layer's KV cache beside its weights. Small memories (2 MiB) make a small random
// model need several; its logits must equal the single-memory run bit for bit (the same
// kernels run on the same values; only copies between memories are added), with and
// without worker threads.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LlamaConfig } from '../reference/config.js';
import { randomModel } from '../reference/init.js';
import { forward } from '../reference/model.js';
import type { LlamaModel } from '../reference/weights.js';
import { createModelKernels, type WasmKernels } from '../src/backends/wasm/kernels.js';
import { layerBytes, planShards } from '../src/backends/wasm/plan.js';
import { quantizeModel } from '../src/convert/storage.js';
import { ensureWasmBuilt, wasmPath } from './wasm-helpers.js';

beforeAll(() => ensureWasmBuilt());

const config: LlamaConfig = {
  dim: 128, nLayers: 5, nHeads: 8, nKvHeads: 4, hiddenDim: 384, vocabSize: 200,
  maxSeqLen: 24, normEps: 1e-5, ropeTheta: 10000, sharedClassifier: false,
};
const MiB = 2 ** 20;
const open: WasmKernels[] = [];
afterAll(async () => {
  await Promise.all(open.map((k) => k.close()));
});

async function kernelsFor(model: LlamaModel, maxMemoryBytes: number, threads: number): Promise<WasmKernels> {
  const k = await createModelKernels(model, { maxMemoryBytes, wasmPath, threads, minParallelWork: 0, contextLength: 24 });
  open.push(k);
  return k;
}

// A prompt of 7 tokens (all logits), then 4 decoding steps.
function run(model: LlamaModel, kernels: WasmKernels): Float32Array[] {
  const cache = kernels.createKVCache(model.config, 24);
  const out = [forward(model, kernels, cache, [1, 7, 19, 4, 150, 2, 99], 0, { allLogits: true })];
  for (let pos = 7; pos < 11; pos++) out.push(forward(model, kernels, cache, [(pos * 37) % 200], pos));
  return out;
}

function expectSameBits(got: Float32Array[], want: Float32Array[]): void {
  expect(got.length).toBe(want.length);
  got.forEach((g, i) => {
    expect(Array.from(new Uint32Array(g.buffer, g.byteOffset, g.length))).toEqual(Array.from(new Uint32Array(want[i].buffer, want[i].byteOffset, want[i].length)));
  });
}

describe('shard plan', () => {
  const model = randomModel(config, 3);
  it('packs contiguous runs of layers, each memory within its capacity, classifier last', () => {
    const perLayer = layerBytes(model, 0, 24);
    // wq, wo [128,128], wk, wv [64,128], w1, w2, w3 [384,128] in f32, and K and V [24, 64]
    expect(perLayer).toBe(4 * (2 * 128 * 128 + 2 * 64 * 128 + 3 * 384 * 128) + 2 * 4 * 24 * 64);
    const plan = planShards(model, { capacityBytes: 2 * MiB, contextLength: 24, threads: 2 });
    expect(plan.shards).toBeGreaterThanOrEqual(2);
    expect(plan.shards).toBeLessThanOrEqual(4);
    for (let l = 1; l < config.nLayers; l++) expect(plan.layerShard[l] - plan.layerShard[l - 1]).toBeGreaterThanOrEqual(0);
    expect(plan.layerShard[0]).toBe(0);
    expect(plan.outputShard).toBe(plan.shards - 1);
    for (const bytes of plan.shardBytes) expect(bytes).toBeLessThanOrEqual(2 * MiB);
    // one memory when it is big enough
    expect(planShards(model, { capacityBytes: 64 * MiB, contextLength: 24, threads: 2 }).shards).toBe(1);
  });

  it('refuses, naming the sizes, when a single layer cannot fit one memory', () => {
    expect(() => planShards(model, { capacityBytes: 512 * 1024, contextLength: 24, threads: 1 })).toThrow(
      /layer 0 needs [\d.]+ MiB \(weights and a KV cache of 24 positions\) plus [\d.]+ MiB of scratch, more than one WASM memory of 0\.5 MiB holds/,
    );
  });
});

describe('sharded forward pass', () => {
  for (const dtype of ['f32', 'q8_0'] as const) {
    it(`${dtype}: 2 MiB memories give the logits of one 256 MiB memory, bit for bit, at 1 and 2 threads`, async () => {
      const f32 = randomModel(config, 5, { std: 0.08 });
      const model = dtype === 'f32' ? f32 : quantizeModel(f32, dtype);
      const single = await kernelsFor(model, 256 * MiB, 1);
      expect(single.shards).toBe(1);
      const want = run(model, single);
      for (const threads of [1, 2]) {
        const sharded = await kernelsFor(model, 2 * MiB, threads);
        if (dtype === 'f32') expect(sharded.shards).toBeGreaterThanOrEqual(2);
        const usage = sharded.memoryUsage();
        expect(usage.capacity).toBe(sharded.shards * 2 * MiB);
        expectSameBits(run(model, sharded), want);
        // the KV cache of every layer, 2 × [24, 64] f32, was placed as views
        expect(sharded.memoryUsage().views).toBeGreaterThanOrEqual(config.nLayers * 2 * 24 * 64 * 4);
        if (threads === 2) expect(sharded.parallelJobs()).toBeGreaterThan(0);
      }
    });
  }
});
