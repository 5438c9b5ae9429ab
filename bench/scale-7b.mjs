#!/usr/bin/env node
// LLaMA-7B's shape (dim 4096, 32 layers, 32 heads, hidden 11008, vocab 32000) in Q4_0 with
// random weights, on the WASM backend: loads (in two WASM memories when the weights and a
// 2048-position KV cache pass 4 GiB), decodes a few tokens, reports tok/s and peak RSS.
// Not a test: it needs ~6 GB of memory and minutes of CPU.
//
//   npm run build && node bench/scale-7b.mjs [--threads N] [--context N] [--steps N] [--file [PATH]]
//   /usr/bin/time -v node bench/scale-7b.mjs        (peak RSS as the kernel counts it)
//
// The random weights: one pool of valid Q4_0 blocks (random nibbles from xorshift32, 32
// bits at a time, and a fixed scale), and every tensor a distinct stretch of it.
//   default   each tensor a view of the pool, uploaded into WASM memory by the kernels, so
//             WASM memory holds all 3.8 GB as a real 7B would, JavaScript only the pool
//   --file    the tensors written out as a real GGUF (PATH, default in the temp folder,
//             ~3.8 GB, deleted afterwards) and loaded by loadLlama, which reads them from
//             the file straight into WASM memory: peak RSS is then compared to the file
import { closeSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKernels, forward, loadLlama, writeGGUF } from '../dist/index.js';

const args = Object.fromEntries(process.argv.slice(2).join(' ').split('--').filter(Boolean).map((a) => a.trim().split(/\s+/)));
const threads = args.threads ? Number(args.threads) : undefined;
const contextLength = Number(args.context ?? 2048);
const steps = Number(args.steps ?? 8);
const filePath = 'file' in args ? args.file ?? join(tmpdir(), 'llama-ts-scale-7b-q4_0.gguf') : undefined;
const tokenizerPath = args.tokenizer ?? new URL('../../shared/data/llama-tokenizer/tokenizer.model', import.meta.url).pathname;

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

// The model as a GGUF file: header (metadata, then the tensor infos appended to a
// metadata-only GGUF, n_tensors patched), then each tensor's blocks at a multiple of 32.
// Written a tensor at a time from the pool, so this process never holds the file.
function writeModelGGUF(path) {
  const ALIGN = 32;
  const c = config;
  const meta = writeGGUF({ metadata: [
    ['general.architecture', 'llama'], ['general.name', 'llama-ts scale-7b random q4_0'],
    ['llama.context_length', c.maxSeqLen], ['llama.embedding_length', c.dim], ['llama.block_count', c.nLayers],
    ['llama.feed_forward_length', c.hiddenDim], ['llama.rope.dimension_count', c.dim / c.nHeads],
    ['llama.attention.head_count', c.nHeads], ['llama.attention.head_count_kv', c.nKvHeads],
    ['llama.attention.layer_norm_rms_epsilon', c.normEps, 'f32'], ['llama.rope.freq_base', c.ropeTheta, 'f32'],
  ], tensors: [] });
  const w = model.weights;
  const tensors = [['token_embd.weight', w.tokenEmbedding]];
  w.layers.forEach((l, i) => {
    const p = `blk.${i}.`;
    tensors.push([p + 'attn_norm.weight', l.attentionNorm], [p + 'attn_q.weight', l.wq], [p + 'attn_k.weight', l.wk],
      [p + 'attn_v.weight', l.wv], [p + 'attn_output.weight', l.wo], [p + 'ffn_norm.weight', l.ffnNorm],
      [p + 'ffn_gate.weight', l.w1], [p + 'ffn_down.weight', l.w2], [p + 'ffn_up.weight', l.w3]);
  });
  tensors.push(['output_norm.weight', w.norm], ['output.weight', w.output]);
  const bytesOf = (t) => (t instanceof Float32Array ? new Uint8Array(t.buffer, t.byteOffset, t.byteLength) : t.data);
  const infos = [];
  let at = 0;
  for (const [name, t] of tensors) {
    const e = new TextEncoder().encode(name);
    const dims = t instanceof Float32Array ? [t.length] : [t.cols, t.rows];
    const info = new DataView(new ArrayBuffer(8 + e.length + 4 + 8 * dims.length + 4 + 8));
    let o = 0;
    info.setBigUint64(o, BigInt(e.length), true); o += 8;
    new Uint8Array(info.buffer, o, e.length).set(e); o += e.length;
    info.setUint32(o, dims.length, true); o += 4;
    for (const d of dims) { info.setBigUint64(o, BigInt(d), true); o += 8; }
    info.setUint32(o, t instanceof Float32Array ? 0 : 2, true); o += 4; // F32 or Q4_0
    at = Math.ceil(at / ALIGN) * ALIGN;
    info.setBigUint64(o, BigInt(at), true);
    at += bytesOf(t).length;
    infos.push(new Uint8Array(info.buffer));
  }
  new DataView(meta.buffer, meta.byteOffset).setBigUint64(8, BigInt(tensors.length), true);
  const fd = openSync(path, 'w');
  try {
    let pos = 0;
    const put = (bytes) => { for (let done = 0; done < bytes.length;) done += writeSync(fd, bytes, done, bytes.length - done, pos + done); pos += bytes.length; };
    const pad = () => put(new Uint8Array(Math.ceil(pos / ALIGN) * ALIGN - pos));
    put(meta);
    for (const info of infos) put(info);
    pad();
    for (const [, t] of tensors) { pad(); put(bytesOf(t)); }
  } finally {
    closeSync(fd);
  }
  return statSync(path).size;
}

const gib = (b) => `${(b / 2 ** 30).toFixed(2)} GiB`;
let peakRss = 0;
const sample = () => (peakRss = Math.max(peakRss, process.memoryUsage().rss));

let t0 = performance.now();
let kernels, runModel, fileBytes = 0;
if (filePath) {
  process.on('exit', () => rmSync(filePath, { force: true })); // also when loading fails
  fileBytes = writeModelGGUF(filePath);
  console.log(`wrote ${filePath}: ${gib(fileBytes)} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  t0 = performance.now();
  const llama = await loadLlama({ model: filePath, tokenizer: tokenizerPath, backend: 'wasm', threads, contextLength });
  kernels = llama.kernels;
  runModel = llama.model;
} else {
  kernels = await createKernels('wasm', model, { threads, contextLength });
  runModel = model;
}
const cache = kernels.createKVCache(config, contextLength);
sample();
const usage = kernels.memoryUsage();
console.log(`loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${kernels.shards} WASM memories, ${kernels.threads} threads; ` +
  `weights ${gib(usage.weights)}, KV cache and views ${gib(usage.views)}, total ${gib(usage.total)}; rss ${gib(peakRss)}`);

const prompt = [1, 15043, 3186, 29892]; // BOS "Hello world,"
t0 = performance.now();
let logits = forward(runModel, kernels, cache, prompt, 0);
sample();
console.log(`prompt of ${prompt.length} tokens: ${((performance.now() - t0) / 1000).toFixed(2)} s`);
let pos = prompt.length;
const times = [];
for (let i = 0; i < steps; i++) {
  let best = 0;
  for (let v = 1; v < logits.length; v++) if (logits[v] > logits[best]) best = v;
  if (!logits.every(Number.isFinite)) throw new Error(`non-finite logits at step ${i}`);
  const t = performance.now();
  logits = forward(runModel, kernels, cache, [best], pos++);
  times.push(performance.now() - t);
  sample();
}
const mean = times.reduce((a, b) => a + b, 0) / times.length;
console.log(`decode: ${steps} tokens, ${(1000 / mean).toFixed(2)} tok/s (${mean.toFixed(0)} ms/token; fastest ${Math.min(...times).toFixed(0)} ms)`);
console.log(`peak rss (sampled): ${gib(peakRss)}; maxRSS: ${gib(process.resourceUsage().maxRSS * 1024)}` +
  (filePath ? ` against a file of ${gib(fileBytes)} (${((process.resourceUsage().maxRSS * 1024) / fileBytes).toFixed(2)}×)` : ''));
await kernels.close();
