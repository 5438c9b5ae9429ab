// GGUF and llama2.c files read straight into WASM memory (src/backends/wasm/direct-load.ts):
// only the header passes through JavaScript, each matrix is read from the file into its
// shard's memory. Checked: the exact run.c story through loadLlama; every matrix a view of
// WASM memory, and nothing else counted as weights; peak RSS of a ~400 MB load (in a child
// process) well under two copies; sharding bit for bit; and bad files giving the in-memory
// loader's errors before any WASM memory exists.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LlamaConfig } from '../reference/config.js';
import { randomModel } from '../reference/init.js';
import { forward } from '../reference/model.js';
import type { LlamaModel } from '../reference/weights.js';
import { createModelKernelsFromFile } from '../src/backends/wasm/direct-load.js';
import { createModelKernels, type WasmKernels } from '../src/backends/wasm/kernels.js';
import { modelTensors, tensorBytes } from '../src/backends/wasm/weights.js';
import { readModelFileLayout } from '../src/formats/load-header.js';
import { ggufFromModel } from '../src/formats/gguf-model.js';
import { parseGGUF } from '../src/formats/gguf.js';
import { writeLlama2c } from '../src/formats/llama2c.js';
import { loadModel } from '../src/formats/load-file.js';
import { loadLlama } from '../src/llama.js';
import { dataPath } from './formats-helpers.js';
import { ensureWasmBuilt, wasmPath } from './wasm-helpers.js';

// ../shared/data/README.md: run.c, greedy, stories260K with tok512, prompt included.
const STORY =
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.\nLily';
const GGUF = dataPath('stories260K/stories260K.gguf');
const BIN = dataPath('stories260K/stories260K.bin');
const TOK512 = dataPath('stories260K/tok512.bin');
const MiB = 2 ** 20;

let dir: string;
const open: WasmKernels[] = [];
beforeAll(() => {
  ensureWasmBuilt();
  dir = mkdtempSync(join(tmpdir(), 'llama-ts-direct-'));
});
afterAll(async () => {
  await Promise.all(open.map((k) => k.close()));
  rmSync(dir, { recursive: true, force: true });
});

function keep(k: WasmKernels): WasmKernels {
  open.push(k);
  return k;
}

function errorOf(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

describe('the run.c story', () => {
  for (const [name, model, tokenizer] of [['gguf', GGUF, undefined], ['llama2.c', BIN, TOK512]] as const) {
    for (const threads of [1, 2]) {
      it(`${name}, ${threads} thread(s): loadLlama reads the weights into WASM memory and tells the story`, async () => {
        const llama = await loadLlama({ model, tokenizer, threads, contextLength: 128 });
        try {
          let text = '';
          for await (const piece of llama.generate('Once upon a time', { maxTokens: 60, temperature: 0 })) text += piece;
          expect('Once upon a time' + text).toBe(STORY);
          expect(llama.model.weights.layers[4].w2.data.buffer).toBeInstanceOf(SharedArrayBuffer);
        } finally {
          await llama.close();
        }
      });
    }
  }
});

describe('weights are views of WASM memory', () => {
  for (const path of [GGUF, BIN]) {
    it(`${path.split('/').pop()}: every matrix aliases the memory, and only they are counted as weights`, async () => {
      const { model, kernels } = await createModelKernelsFromFile(path, { wasmPath, threads: 1, contextLength: 64 });
      keep(kernels);
      expect(kernels.shards).toBe(1);
      const tensors = modelTensors(model);
      expect(tensors.length).toBe(1 + 5 * 7); // the shared classifier is the embedding
      const memory = new Uint8Array(kernels.memory.buffer);
      for (const w of tensors) {
        expect(w.data.buffer).toBeInstanceOf(SharedArrayBuffer);
        // a write through the memory shows in the tensor: the same bytes, not a copy
        const bytes = new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength);
        const before = bytes[7];
        memory[w.data.byteOffset + 7] = before ^ 0xff;
        expect(bytes[7]).toBe(before ^ 0xff);
        memory[w.data.byteOffset + 7] = before;
      }
      const sum = tensors.reduce((s, w) => s + tensorBytes(w), 0);
      const { weights } = kernels.memoryUsage();
      expect(weights).toBeGreaterThanOrEqual(sum);
      expect(weights).toBeLessThanOrEqual(sum + 64 * tensors.length); // alignment only
      // the values are the file's
      const want = loadModel(path).model;
      expect(Array.from(model.weights.layers[2].wk.data.slice(0, 64))).toEqual(Array.from(want.weights.layers[2].wk.data.slice(0, 64)));
      expect(Array.from(model.weights.layers[3].ffnNorm)).toEqual(Array.from(want.weights.layers[3].ffnNorm));
    });
  }

  it('a header longer than the first read (3 MiB of metadata) is read in growing pieces', () => {
    const model = randomModel(smallConfig(false), 9);
    const strings = Array.from({ length: 200_000 }, (_, i) => `piece-${i}`);
    const bytes = ggufFromModel(model, [['test.padding', strings, 'array:string']]);
    const path = join(dir, 'long-header.gguf');
    writeFileSync(path, bytes);
    const file = readModelFileLayout(path);
    const parsed = parseGGUF(bytes, path);
    expect(parsed.dataOffset).toBeGreaterThan(2 * MiB);
    expect(file.gguf!.dataOffset).toBe(parsed.dataOffset);
    expect((file.gguf!.metadata['test.padding'] as string[])[199_999]).toBe('piece-199999');
    expect(file.layout.weights.layers[1].w3.offset).toBe(parsed.tensors.find((t) => t.name === 'blk.1.ffn_up.weight')!.offset);
  });
});

function smallConfig(sharedClassifier: boolean): LlamaConfig {
  return {
    dim: 128, nLayers: 5, nHeads: 8, nKvHeads: 4, hiddenDim: 384, vocabSize: 200,
    maxSeqLen: 24, normEps: 1e-5, ropeTheta: 10000, sharedClassifier,
  };
}

// A prompt of 7 tokens (all logits), then 4 decoding steps.
function run(model: LlamaModel, kernels: WasmKernels): Uint32Array[] {
  const cache = kernels.createKVCache(model.config, 24);
  const out = [forward(model, kernels, cache, [1, 7, 19, 4, 150, 2, 99], 0, { allLogits: true })];
  for (let pos = 7; pos < 11; pos++) out.push(forward(model, kernels, cache, [(pos * 37) % 200], pos));
  return out.map((a) => new Uint32Array(a.buffer, a.byteOffset, a.length));
}

describe('sharding with the direct loader', () => {
  for (const format of ['gguf', 'llama2c'] as const) {
    it(`${format}: 2 MiB memories give the logits of one memory and of the copying loader, bit for bit`, async () => {
      const model = randomModel(smallConfig(false), 5, { std: 0.08 });
      const path = join(dir, `small.${format === 'gguf' ? 'gguf' : 'bin'}`);
      writeFileSync(path, format === 'gguf' ? ggufFromModel(model) : writeLlama2c(model, 0));
      const copied = keep(await createModelKernels(model, { wasmPath, threads: 1, contextLength: 24 }));
      const want = run(model, copied);
      const single = await createModelKernelsFromFile(path, { wasmPath, threads: 1, contextLength: 24, maxMemoryBytes: 256 * MiB });
      keep(single.kernels);
      expect(single.kernels.shards).toBe(1);
      expect(run(single.model, single.kernels)).toEqual(want);
      for (const threads of [1, 2]) {
        const sharded = await createModelKernelsFromFile(path, { wasmPath, threads, minParallelWork: 0, contextLength: 24, maxMemoryBytes: 2 * MiB });
        keep(sharded.kernels);
        expect(sharded.kernels.shards).toBeGreaterThanOrEqual(2);
        expect(sharded.kernels.memoryUsage().capacity).toBe(sharded.kernels.shards * 2 * MiB);
        // the separate embedding is in WASM memory too (the first one), as are all matrices
        for (const w of modelTensors(sharded.model)) expect(w.data.buffer).toBeInstanceOf(SharedArrayBuffer);
        const sum = modelTensors(sharded.model).reduce((s, w) => s + tensorBytes(w), 0);
        expect(sharded.kernels.memoryUsage().weights).toBeLessThanOrEqual(sum + 64 * 37);
        expect(run(sharded.model, sharded.kernels)).toEqual(want);
      }
    });
  }
});

describe('bad files: the in-memory loader\'s errors, before any WASM memory', () => {
  const model = randomModel(smallConfig(false), 7);
  const files: [string, Uint8Array][] = [['cut.gguf', ggufFromModel(model, [['tokenizer.ggml.tokens', ['a', 'b'], 'array:string']])], ['cut.bin', writeLlama2c(model, 1)]];
  for (const [name, bytes] of files) {
    it(`${name} truncated at offsets through header and data`, async () => {
      const headerEnd = name.endsWith('.gguf') ? parseGGUF(bytes, name).dataOffset : 256;
      const cuts = [0, 3, 4, 9, 20, 27, 100, 255, headerEnd - 50, headerEnd - 1, headerEnd, headerEnd + 4096, bytes.length - 1];
      for (const n of cuts) {
        const path = join(dir, name);
        writeFileSync(path, bytes.subarray(0, n));
        const want = errorOf(() => loadModel(path)).message;
        expect(want).toContain(path);
        expect(errorOf(() => readModelFileLayout(path)).message).toBe(want);
        await expect(createModelKernelsFromFile(path, { wasmPath, threads: 1 })).rejects.toThrow(want);
      }
    });
  }

  it('a tensor offset past the end of the file', async () => {
    const bytes = ggufFromModel(model);
    const file = parseGGUF(bytes, 'x');
    const info = file.tensors.find((t) => t.name === 'blk.4.ffn_down.weight')!;
    // the tensor info record ends with its uint64 offset (relative to the data section)
    const field = locateOffsetField(bytes, info.offset - file.dataOffset, 'blk.4.ffn_down.weight');
    new DataView(bytes.buffer, bytes.byteOffset).setBigUint64(field, BigInt(bytes.length), true);
    const path = join(dir, 'far.gguf');
    writeFileSync(path, bytes);
    const want = errorOf(() => loadModel(path)).message;
    expect(want).toMatch(/tensor "blk\.4\.ffn_down\.weight" \(F32 \[384, 128\]\) at bytes \d+\.\.\d+ runs past the end of the file/);
    expect(errorOf(() => readModelFileLayout(path)).message).toBe(want);
    await expect(createModelKernelsFromFile(path, { wasmPath, threads: 1 })).rejects.toThrow(want);
  });
});

// Byte offset of a tensor info's offset field: after the name, n_dims, dims and type.
function locateOffsetField(bytes: Uint8Array, relOffset: number, name: string): number {
  const needle = new TextEncoder().encode(name);
  const at = Buffer.from(bytes).indexOf(Buffer.from(needle));
  const dv = new DataView(bytes.buffer, bytes.byteOffset);
  const nDims = dv.getUint32(at + needle.length, true);
  const field = at + needle.length + 4 + 8 * nDims + 4;
  expect(dv.getBigUint64(field, true)).toBe(BigInt(relOffset));
  return field;
}

// ~400 MB of random F32 weights, loaded in a child process: the JS heap holds only the
// header, so the peak resident set grows by about the file, not twice it.
describe('resident memory', () => {
  it('peak RSS growth of a direct load stays under 1.25 × the file size', async () => {
    const path = join(dir, 'big.gguf');
    const fileBytes = writeBigGGUF(path);
    expect(fileBytes).toBeGreaterThan(380e6);
    const child = join(dir, 'child.mjs');
    const entry = fileURLToPath(new URL('../src/backends/wasm/direct-load.ts', import.meta.url));
    await build({
      stdin: { contents: CHILD_SOURCE.replace('ENTRY', JSON.stringify(entry)), resolveDir: dir, loader: 'ts' },
      bundle: true, platform: 'node', format: 'esm', outfile: child, logLevel: 'error',
    });
    const kernelsFile = wasmPath ?? fileURLToPath(new URL('../build/kernels.wasm', import.meta.url));
    const out = JSON.parse(execFileSync(process.execPath, [child, path, kernelsFile], { encoding: 'utf8', timeout: 120_000 }));
    rmSync(path);
    const growth = out.maxRss - out.rssBefore;
    expect(out.weights).toBeGreaterThan(0.98 * fileBytes); // the weights really are in memory...
    expect(growth).toBeGreaterThan(0.9 * fileBytes); // ...and resident
    expect(growth).toBeLessThan(1.25 * fileBytes); // once: the copying loader needs about 2×
  }, 180_000);
});

// The peak: process.resourceUsage().maxRSS, except on Linux, where that keeps the high-water
// mark of the forked copy of the parent (this test process, holding the file it wrote)
// across exec, so /proc/self/status's VmHWM (this process's own memory only) is read.
const CHILD_SOURCE = `
import { readFileSync } from 'node:fs';
import { createModelKernelsFromFile } from ENTRY;
const [path, wasmPath] = process.argv.slice(2);
function peakRss() {
  try {
    const kib = /VmHWM:\\s*(\\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (kib) return Number(kib[1]) * 1024;
  } catch {}
  return process.resourceUsage().maxRSS * 1024;
}
const rssBefore = process.memoryUsage().rss;
const { model, kernels } = await createModelKernelsFromFile(path, { wasmPath, threads: 1, contextLength: 16 });
const rssAfter = process.memoryUsage().rss;
console.log(JSON.stringify({ rssBefore, rssAfter, maxRss: peakRss(), weights: kernels.memoryUsage().weights, dim: model.config.dim }));
await kernels.close();
`;

// A random F32 model of ~393 MB (dim 1024, 7 layers, hidden 2816, vocab 8192, shared
// classifier). Its tensors are distinct stretches of one random pool, so this process
// holds the pool and the written file, not a model of the file's size as well.
function writeBigGGUF(path: string): number {
  const config: LlamaConfig = {
    dim: 1024, nLayers: 7, nHeads: 16, nKvHeads: 16, hiddenDim: 2816, vocabSize: 8192,
    maxSeqLen: 64, normEps: 1e-5, ropeTheta: 10000, sharedClassifier: true,
  };
  const pool = new Float32Array(8192 * 1024 + 4096);
  let s = 12345;
  for (let i = 0; i < pool.length; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    pool[i] = (s / 2 ** 32 - 0.5) * 0.1;
  }
  let cursor = 0;
  const matrix = (rows: number, cols: number) => {
    const start = (cursor += 977) % (pool.length - rows * cols + 1);
    return { dtype: 'f32' as const, rows, cols, data: pool.subarray(start, start + rows * cols) };
  };
  const C = config.dim, H = config.hiddenDim;
  const gain = () => new Float32Array(C).fill(1);
  const tokenEmbedding = matrix(config.vocabSize, C);
  const layers = Array.from({ length: config.nLayers }, () => ({
    attentionNorm: gain(), wq: matrix(C, C), wk: matrix(C, C), wv: matrix(C, C), wo: matrix(C, C),
    ffnNorm: gain(), w1: matrix(H, C), w2: matrix(C, H), w3: matrix(H, C),
  }));
  const bytes = ggufFromModel({ config, weights: { tokenEmbedding, layers, norm: gain(), output: tokenEmbedding } });
  writeFileSync(path, bytes);
  return bytes.length;
}
