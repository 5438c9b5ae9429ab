#!/usr/bin/env node
// LLaMA-7B's shape (dim 4096, 32 layers, 32 heads, hidden 11008, vocab 32000) in Q4_0 with
// random weights, on the WASM backend: loads (in two WASM memories when the weights and a
// 2048-position KV cache pass 4 GiB), decodes a few tokens, reports tok/s and peak RSS.
// Not a test: it needs ~6 GB of memory and minutes of CPU.
//
//   npm run build && node bench/scale-7b.mjs [--threads N] [--context N] [--steps N]
//   /usr/bin/time -v node bench/scale-7b.mjs        (peak RSS as the kernel counts it)
//
// The random weights: one pool of valid Q4_0 blocks (random nibbles from xorshift32, 32
// bits at a time, and a fixed scale), and every tensor a distinct view of some stretch of
// it. The kernels upload each view separately, so WASM memory holds all 3.8 GB as a real
// 7B would, while JavaScript holds only the pool.
import { createKernels, forward } from '../dist/index.js';

const args = Object.fromEntries(process.argv.slice(2).join(' ').split('--').filter(Boolean).map((a) => a.trim().split(/\s+/)));
const threads = args.threads ? Number(args.threads) : undefined;
const contextLength = Number(args.context ?? 2048);
const steps = Number(args.steps ?? 8);

const config = {
  dim: 4096, nLayers: 32, nHeads: 32, nKvHeads: 32, hiddenDim: 11008, vocabSize: 32000,
  maxSeqLen: 2048, normEps: 1e-5, ropeTheta: 10000, sharedClassifier: false,
};
const BLOCK = 18; // Q4_0: f16 scale + 16 bytes of nibbles, 32 values
const SCALE_F16 = 0x1c19; // ≈ 0.004: values d·(q − 8) with std ≈ 0.018, like a trained 7B's

// A pool of `blocks` Q4_0 blocks with random nibbles.
function blockPool(blocks, seed) {
  const bytes = new Uint8Array(blocks * BLOCK + 3);
  const words = new Uint32Array(bytes.buffer, 0, Math.floor(bytes.length / 4));
  let s = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    words[i] = s;
  }
  for (let b = 0; b < blocks; b++) {
    bytes[b * BLOCK] = SCALE_F16 & 0xff;
    bytes[b * BLOCK + 1] = SCALE_F16 >> 8;
  }
  return bytes;
}

const poolBlocks = Math.ceil((32000 * 4096) / 32) + 4096; // the largest tensor, and room to slide
const pool = blockPool(poolBlocks, 12345);
let cursor = 0;
function q4Tensor(rows, cols) {
  const blocks = (rows * cols) / 32;
  const start = cursor % (poolBlocks - blocks + 1);
  cursor += 977; // a different stretch for the next tensor
  return { dtype: 'q4_0', rows, cols, data: new Uint8Array(pool.buffer, start * BLOCK, blocks * BLOCK) };
}
const gain = () => new Float32Array(config.dim).fill(1);

const C = config.dim, H = config.hiddenDim;
const layers = Array.from({ length: config.nLayers }, () => ({
  attentionNorm: gain(), wq: q4Tensor(C, C), wk: q4Tensor(C, C), wv: q4Tensor(C, C), wo: q4Tensor(C, C),
  ffnNorm: gain(), w1: q4Tensor(H, C), w2: q4Tensor(C, H), w3: q4Tensor(H, C),
}));
const model = {
  config,
  weights: { tokenEmbedding: q4Tensor(config.vocabSize, C), layers, norm: gain(), output: q4Tensor(config.vocabSize, C) },
};

const gib = (b) => `${(b / 2 ** 30).toFixed(2)} GiB`;
let peakRss = 0;
const sample = () => (peakRss = Math.max(peakRss, process.memoryUsage().rss));

let t0 = performance.now();
const kernels = await createKernels('wasm', model, { threads, contextLength });
const cache = kernels.createKVCache(config, contextLength);
sample();
const usage = kernels.memoryUsage();
console.log(`loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${kernels.shards} WASM memories, ${kernels.threads} threads; ` +
  `weights ${gib(usage.weights)}, KV cache and views ${gib(usage.views)}, total ${gib(usage.total)}; rss ${gib(peakRss)}`);

const prompt = [1, 15043, 3186, 29892]; // BOS "Hello world,"
t0 = performance.now();
let logits = forward(model, kernels, cache, prompt, 0);
sample();
console.log(`prompt of ${prompt.length} tokens: ${((performance.now() - t0) / 1000).toFixed(2)} s`);
let pos = prompt.length;
const times = [];
for (let i = 0; i < steps; i++) {
  let best = 0;
  for (let v = 1; v < logits.length; v++) if (logits[v] > logits[best]) best = v;
  if (!logits.every(Number.isFinite)) throw new Error(`non-finite logits at step ${i}`);
  const t = performance.now();
  logits = forward(model, kernels, cache, [best], pos++);
  times.push(performance.now() - t);
  sample();
}
const mean = times.reduce((a, b) => a + b, 0) / times.length;
console.log(`decode: ${steps} tokens, ${(1000 / mean).toFixed(2)} tok/s (${mean.toFixed(0)} ms/token; fastest ${Math.min(...times).toFixed(0)} ms)`);
console.log(`peak rss (sampled): ${gib(peakRss)}`);
await kernels.close();
