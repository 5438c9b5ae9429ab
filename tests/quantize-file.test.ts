// llama-ts quantize (src/quant/quantize-file.ts) on the real stories260K: which matrices
// are quantized, the vocabulary carried along, the file round trip of the blocks, and the
// quantized model's text against the F32 one.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forward } from '../reference/model.js';
import { toF32, type WeightTensor } from '../reference/tensor.js';
import type { LlamaModel } from '../reference/weights.js';
import { createModelKernels, type WasmKernels } from '../src/backends/wasm/kernels.js';
import { loadModel } from '../src/formats/load-file.js';
import { quantize } from '../src/quant/quantize.js';
import { quantizeFile } from '../src/convert/quantize-file.js';
import { ensureWasmBuilt, wasmPath } from './wasm-helpers.js';

const data = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../shared/data');
const gguf = join(data, 'stories260K/stories260K.gguf');
const bin = join(data, 'stories260K/stories260K.bin');
const tok512 = join(data, 'stories260K/tok512.bin');
let dir: string;
const kernels: WasmKernels[] = [];
beforeAll(() => {
  ensureWasmBuilt();
  dir = mkdtempSync(join(tmpdir(), 'llama-ts-quantize-'));
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await Promise.all(kernels.map((k) => k.close()));
});

async function kernelsFor(model: LlamaModel): Promise<WasmKernels> {
  const k = await createModelKernels(model, { wasmPath, threads: 1, maxMemoryBytes: 1 << 26, contextLength: 128 });
  kernels.push(k);
  return k;
}

function argmax(x: Float32Array, from = 0, n = x.length): number {
  let best = from;
  for (let i = from + 1; i < from + n; i++) if (x[i] > x[best]) best = i;
  return best - from;
}

async function greedy(model: LlamaModel, steps: number): Promise<number[]> {
  const k = await kernelsFor(model);
  const cache = k.createKVCache(model.config, 128);
  const tokens = [1]; // BOS
  let logits = forward(model, k, cache, tokens, 0);
  for (let i = 0; i < steps; i++) {
    tokens.push(argmax(logits));
    logits = forward(model, k, cache, [tokens[tokens.length - 1]], tokens.length - 1);
  }
  return tokens;
}

const originalModel = (): LlamaModel => loadModel(gguf).model;

describe('quantize stories260K.gguf', () => {
  it('q8_0: quantizes the matrices with rows of whole blocks, w2 (rows of 172) as f16, the norms f32', () => {
    const out = join(dir, 'q8.gguf');
    const result = quantizeFile(gguf, out, { type: 'q8_0' });
    // 5 layers × wq wk wv wo w1 w3, and the shared embedding/classifier
    expect(result.quantized.length).toBe(5 * 6 + 1);
    expect(result.f16).toEqual([0, 1, 2, 3, 4].map((l) => `layers.${l}.feed_forward.w2.weight (rows of 172 values are not whole blocks of 32)`));
    expect(result.notes).toContain('stored as f16, rows not a multiple of 32 values: layers.0.feed_forward.w2.weight, layers.1.feed_forward.w2.weight, layers.2.feed_forward.w2.weight, layers.3.feed_forward.w2.weight, layers.4.feed_forward.w2.weight');
    const loaded = loadModel(out);
    const w = loaded.model.weights;
    expect(loaded.model.config).toEqual(originalModel().config);
    expect([w.tokenEmbedding.dtype, w.layers[0].wq.dtype, w.layers[4].w3.dtype, w.layers[2].w2.dtype]).toEqual(['q8_0', 'q8_0', 'q8_0', 'f16']);
    expect(w.output).toBe(w.tokenEmbedding); // still shared
    expect(w.norm).toBeInstanceOf(Float32Array);
    expect(Array.from(w.layers[1].ffnNorm)).toEqual(Array.from(originalModel().weights.layers[1].ffnNorm));
    expect(loaded.gguf!.metadata['general.file_type']).toBe(7);
  });

  it('the file holds exactly the blocks quantize() makes, and they decode as GGUF defines', () => {
    const out = join(dir, 'q4.gguf');
    quantizeFile(gguf, out, { type: 'q4_0' });
    const original = originalModel().weights.layers[3].wk;
    const stored: WeightTensor = loadModel(out).model.weights.layers[3].wk;
    const expected = quantize(toF32(original), original.rows, original.cols, 'q4_0');
    expect(stored.dtype).toBe('q4_0');
    expect(Array.from(stored.data as Uint8Array)).toEqual(Array.from(expected.data as Uint8Array));
    // decode by hand: x = d · (nibble − 8), low nibbles values 0..15, high 16..31
    const bytes = stored.data as Uint8Array;
    const d = new DataView(new Uint16Array([bytes[0] | (bytes[1] << 8)]).buffer).getUint16(0, true);
    const half = (h: number): number => (h & 0x8000 ? -1 : 1) * (h & 0x7c00 ? (1 + (h & 0x3ff) / 1024) * 2 ** (((h >> 10) & 31) - 15) : (h & 0x3ff) * 2 ** -24);
    const values = toF32(stored);
    expect(values[0]).toBe(Math.fround(half(d) * ((bytes[2] & 15) - 8)));
    expect(values[16]).toBe(Math.fround(half(d) * ((bytes[2] >> 4) - 8)));
    // and each value within one step (|d|) of the original
    const want = toF32(original);
    for (let b = 0; b < 4; b++) {
      const scale = Math.abs(half(bytes[b * 18] | (bytes[b * 18 + 1] << 8)));
      for (let j = 0; j < 32; j++) expect(Math.abs(values[b * 32 + j] - want[b * 32 + j])).toBeLessThanOrEqual(scale * 1.001);
    }
  });

  it('copies the tokenizer.* metadata of a GGUF input unchanged', () => {
    const out = join(dir, 'q8-vocab.gguf');
    quantizeFile(gguf, out, { type: 'q8_0' });
    const a = loadModel(gguf).gguf!;
    const b = loadModel(out).gguf!;
    const keys = Object.keys(a.metadata).filter((k) => k.startsWith('tokenizer.'));
    expect(keys.length).toBeGreaterThanOrEqual(4);
    for (const k of keys) {
      expect(b.types[k]).toBe(a.types[k]);
      expect(b.metadata[k]).toEqual(a.metadata[k]);
    }
  });

  it('q8_0 greedy text: the first 20 tokens equal the F32 model\'s', async () => {
    const q8 = loadModel(join(dir, 'q8.gguf')).model;
    const want = await greedy(originalModel(), 20);
    const got = await greedy(q8, 20);
    expect(got).toEqual(want);
    expect(new Set(want).size).toBeGreaterThan(8);
  });

  it('q4_0: finite logits, top-1 equal to F32 on most positions of a teacher-forced text', async () => {
    const f32 = originalModel();
    const story = await greedy(f32, 40); // a real story, as a prompt
    const run = async (model: LlamaModel): Promise<Float32Array> => {
      const k = await kernelsFor(model);
      return forward(model, k, k.createKVCache(model.config, 128), story, 0, { allLogits: true });
    };
    const want = await run(f32);
    const got = await run(loadModel(join(dir, 'q4.gguf')).model);
    expect(got.every(Number.isFinite)).toBe(true);
    const V = f32.config.vocabSize;
    let agree = 0;
    for (let t = 0; t < story.length; t++) if (argmax(got, t * V, V) === argmax(want, t * V, V)) agree++;
    expect(agree / story.length).toBeGreaterThanOrEqual(0.75);
  });

  it('f16: every matrix, w2 included', () => {
    const result = quantizeFile(gguf, join(dir, 'f16.gguf'), { type: 'f16' });
    expect(result.f16).toEqual([]);
    const w = loadModel(join(dir, 'f16.gguf')).model.weights;
    expect([w.layers[0].w2.dtype, w.tokenEmbedding.dtype]).toEqual(['f16', 'f16']);
  });
});

describe('quantize stories260K.bin (llama2.c)', () => {
  it('writes the vocabulary of --tokenizer, equal to the one in stories260K.gguf', () => {
    const out = join(dir, 'from-bin.gguf');
    quantizeFile(bin, out, { type: 'q8_0', tokenizer: tok512 });
    const got = loadModel(out);
    // tok512.bin (llama2.c) spells BOS and EOS "\n<s>\n" and "\n</s>\n"; every other piece is the GGUF's
    const tokens = got.gguf!.metadata['tokenizer.ggml.tokens'] as string[];
    const want = loadModel(gguf).gguf!.metadata['tokenizer.ggml.tokens'] as string[];
    expect(tokens.length).toBe(512);
    expect(tokens.slice(3)).toEqual(want.slice(3));
    expect(tokens.slice(1, 3).map((t) => t.trim())).toEqual(['<s>', '</s>']);
    expect(got.model.weights.layers[0].wq.dtype).toBe('q8_0');
    // same weights as quantizing the GGUF (the two files hold the same floats)
    expect(Array.from(got.model.weights.layers[2].w1.data as Uint8Array)).toEqual(
      Array.from(loadModel(join(dir, 'q8.gguf')).model.weights.layers[2].w1.data as Uint8Array),
    );
  });

  it('without --tokenizer says the output has no vocabulary', () => {
    const result = quantizeFile(bin, join(dir, 'no-vocab.gguf'), { type: 'q4_0' });
    expect(result.notes.join('\n')).toMatch(/holds no vocabulary and no --tokenizer was given/);
  });

  it('refuses an unknown type and a tokenizer of the wrong size, naming them', () => {
    expect(() => quantizeFile(bin, join(dir, 'x.gguf'), { type: 'iq2_xs' as never })).toThrow(/--type must be one of q8_0, q4_0, q4_1, q5_0, q5_1, iq4_nl, q2_k, q3_k, q4_k, q5_k, q6_k, f16, q3_k_s, q3_k_m, q3_k_l, q4_k_s, q4_k_m, q5_k_s, q5_k_m, got "iq2_xs"/);
    const llama = join(data, 'llama-tokenizer/tokenizer.bin');
    expect(() => quantizeFile(bin, join(dir, 'x.gguf'), { type: 'q8_0', tokenizer: llama })).toThrow(/tokenizer\.bin: the tokenizer has 32000 tokens but the model's vocabulary has 512/);
  });
});
