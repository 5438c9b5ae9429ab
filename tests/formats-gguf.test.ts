import { describe, expect, it } from 'vitest';
import { kvDim } from '../reference/config.js';
import { f32ToF16, toF32, type WeightTensor } from '../reference/tensor.js';
import { ggufFromModel, ggufToModel } from '../src/formats/gguf-model.js';
import {
  findTensor, ggufTensorBytes, metadataEntries, parseGGUF, writeGGUF,
  type GGUFMetadataEntry, type GGUFWriteTensor,
} from '../src/formats/gguf.js';
import { loadModel, loadModelFromBytes } from '../src/formats/load-file.js';
import { readFileBytes } from '../src/io/read-file.js';
import { dataPath, randomModel, rng, sameParameters, tinyConfig } from './formats-helpers.js';

const STORIES_GGUF = dataPath('stories260K/stories260K.gguf');
const STORIES_BIN = dataPath('stories260K/stories260K.bin');
const TINY_RANDOM = dataPath('tiny-random/llama-2-tiny-random.gguf');
const VOCAB = dataPath('llamacpp-vocab/ggml-vocab-llama-spm.gguf');

describe('real GGUF files', () => {
  it('stories260K.gguf parses: v3, 48 F32 tensors, llama metadata', () => {
    const file = parseGGUF(readFileBytes(STORIES_GGUF), 'stories260K.gguf');
    expect(file.version).toBe(3);
    expect(file.tensors.length).toBe(48);
    expect(file.tensors.every((t) => t.type === 0)).toBe(true);
    expect(file.metadata['general.architecture']).toBe('llama');
    expect(file.metadata['llama.context_length']).toBe(2048);
    expect(file.alignment).toBe(32);
    expect(file.dataOffset % 32).toBe(0);
    for (const t of file.tensors) {
      expect(t.offset % 32).toBe(0);
      expect(t.offset + t.byteLength).toBeLessThanOrEqual(file.bytes.length);
    }
    const q = findTensor(file, 'blk.0.attn_q.weight')!;
    expect(q.dims).toEqual([64, 64]);
    expect(q.byteLength).toBe(64 * 64 * 4);
    expect(findTensor(file, 'blk.0.attn_k.weight')!.dims).toEqual([64, 32]);
    // The file repeats the token embedding as output.weight; the loader shares them.
    const out = findTensor(file, 'output.weight')!;
    const embd = findTensor(file, 'token_embd.weight')!;
    expect(out.dims).toEqual([64, 512]);
    expect(Buffer.compare(ggufTensorBytes(file, out), ggufTensorBytes(file, embd))).toBe(0);
  });

  it('stories260K.gguf and .bin load to the same config and bit-identical weights', () => {
    const g = loadModel(STORIES_GGUF);
    const b = loadModel(STORIES_BIN);
    expect(g.format).toBe('gguf');
    expect(b.format).toBe('llama2c');
    expect(g.gguf?.tensors.length).toBe(48);
    const expected = { dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512, sharedClassifier: true };
    expect(g.model.config).toMatchObject({ ...expected, maxSeqLen: 2048, normEps: 1e-5, ropeTheta: 10000 });
    expect(b.model.config).toMatchObject({ ...expected, maxSeqLen: 512, normEps: 1e-5, ropeTheta: 10000 });
    const { compared, differing } = sameParameters(g.model, b.model);
    expect(compared).toBe(1 + 5 * 9 + 2);
    expect(differing).toEqual([]);
    expect(g.model.weights.output).toBe(g.model.weights.tokenEmbedding);
    // A real value, so that "identical" is not two empty arrays: row 0 is finite and nonzero.
    const row0 = (g.model.weights.tokenEmbedding.data as Float32Array).subarray(0, 64);
    expect(row0.some((v) => v !== 0)).toBe(true);
    expect(row0.every(Number.isFinite)).toBe(true);
  });

  it('weights are zero-copy views into the file buffer', () => {
    const bytes = readFileBytes(STORIES_GGUF);
    const { model } = loadModelFromBytes(bytes, 'stories260K.gguf');
    const wq = model.weights.layers[3].wq;
    expect(wq.data.buffer).toBe(bytes.buffer);
    expect(model.weights.norm.buffer).toBe(bytes.buffer);
    const info = findTensor(parseGGUF(bytes, 'x'), 'blk.3.attn_q.weight')!;
    expect(wq.data.byteOffset).toBe(info.offset);
  });

  it('an unaligned buffer is copied and gives the same weights', () => {
    const bytes = readFileBytes(STORIES_GGUF);
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    const odd = shifted.subarray(1);
    const a = loadModelFromBytes(bytes, 'a.gguf').model;
    const b = loadModelFromBytes(odd, 'b.gguf').model;
    expect(b.weights.layers[0].wq.data.buffer).not.toBe(shifted.buffer);
    expect(sameParameters(a, b).differing).toEqual([]);
  });

  it('llama-2-tiny-random.gguf loads with F16 matrices and F32 norms', () => {
    const { model, gguf } = loadModel(TINY_RANDOM);
    expect(model.config).toMatchObject({ dim: 8, nLayers: 1, nHeads: 2, vocabSize: 32000 });
    expect(model.config.nHeads % model.config.nKvHeads).toBe(0);
    const wq = model.weights.layers[0].wq;
    expect(wq.dtype).toBe('f16');
    expect(wq.data).toBeInstanceOf(Uint16Array);
    expect([wq.rows, wq.cols]).toEqual([8, 8]);
    const values = toF32(wq);
    expect(values.every(Number.isFinite)).toBe(true);
    expect(values.some((v) => v !== 0)).toBe(true);
    expect(model.weights.layers[0].attentionNorm).toBeInstanceOf(Float32Array);
    expect(model.weights.tokenEmbedding.rows).toBe(32000);
    expect(Array.isArray(gguf?.metadata['tokenizer.ggml.tokens'])).toBe(true);
  });

  it('ggml-vocab-llama-spm.gguf parses: 0 tensors, 32000 tokens with scores and types', () => {
    const file = parseGGUF(readFileBytes(VOCAB), 'ggml-vocab-llama-spm.gguf');
    expect(file.tensors).toEqual([]);
    const tokens = file.metadata['tokenizer.ggml.tokens'] as string[];
    expect(tokens.length).toBe(32000);
    expect(file.types['tokenizer.ggml.tokens']).toBe('array:string');
    expect(tokens[1]).toBe('<s>');
    expect(tokens[259]).toBe('▁▁');
    expect((file.metadata['tokenizer.ggml.scores'] as number[]).length).toBe(32000);
    expect(file.types['tokenizer.ggml.scores']).toBe('array:f32');
    expect(file.metadata['tokenizer.ggml.model']).toBe('llama');
    // Loading it as a model fails clearly: it has no weights.
    expect(() => loadModel(VOCAB)).toThrow(/ggml-vocab-llama-spm\.gguf.*(no|tensor)/);
  });
});

describe('GGUF write → read', () => {
  const every: GGUFMetadataEntry[] = [
    ['general.architecture', 'test', 'string'],
    ['t.u8', 255, 'u8'], ['t.i8', -128, 'i8'], ['t.u16', 65535, 'u16'], ['t.i16', -32768, 'i16'],
    ['t.u32', 4294967295, 'u32'], ['t.i32', -2147483648, 'i32'], ['t.f32', 0.5, 'f32'],
    ['t.bool', true, 'bool'], ['t.false', false, 'bool'], ['t.string', 'héllo ▁ 世界 🦙', 'string'],
    ['t.empty', '', 'string'],
    ['t.u64', 2n ** 64n - 1n, 'u64'], ['t.i64', -(2n ** 63n), 'i64'], ['t.f64', Math.PI, 'f64'],
    ['t.a.u8', [0, 1, 255], 'array:u8'], ['t.a.i8', [-1, 2], 'array:i8'], ['t.a.u16', [7, 65535], 'array:u16'],
    ['t.a.i16', [-5, 5], 'array:i16'], ['t.a.u32', [1, 2, 3], 'array:u32'], ['t.a.i32', [-1, 0, 1], 'array:i32'],
    ['t.a.f32', [1.5, -2.25], 'array:f32'], ['t.a.bool', [true, false, true], 'array:bool'],
    ['t.a.string', ['a', '', 'ccc'], 'array:string'], ['t.a.u64', [0n, 2n ** 40n], 'array:u64'],
    ['t.a.i64', [-3n, 3n], 'array:i64'], ['t.a.f64', [1e300, -1e-300], 'array:f64'], ['t.a.empty', [], 'array:f32'],
    ['t.a.nested', [[1, 2], [3]], 'array:array:u16'], ['t.a.nested2', [[['x']]], 'array:array:array:string'],
    ['t.default.int', 7], ['t.default.float', 0.25], ['t.default.neg', -3], ['t.default.strings', ['p', 'q']],
  ];

  function tensors(): GGUFWriteTensor[] {
    const next = rng(7);
    const bytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(next() * 256));
    return [
      { name: 'f32', dims: [3, 2], type: 0, data: bytes(24) },
      { name: 'f16', dims: [5], type: 1, data: bytes(10) },
      { name: 'q8_0', dims: [64, 2], type: 8, data: bytes(2 * 2 * 34) },
      { name: 'q4_0', dims: [32, 3], type: 2, data: bytes(3 * 18) },
      { name: 'q4_k (not computable here, but parses)', dims: [256, 1], type: 12, data: bytes(144) },
      { name: '4d', dims: [1, 2, 1, 2], type: 0, data: bytes(16) },
    ];
  }

  it('keeps every metadata type, value and tensor byte, at alignment 32 and 64', () => {
    for (const alignment of [32, 64]) {
      const written = writeGGUF({ metadata: every, tensors: tensors(), alignment });
      const file = parseGGUF(written, 'roundtrip.gguf');
      expect(file.version).toBe(3);
      expect(file.alignment).toBe(alignment);
      for (const [key, value, type] of every) {
        expect(file.metadata[key]).toEqual(value);
        if (type) expect(file.types[key]).toBe(type);
      }
      expect(file.types['t.default.int']).toBe('u32');
      expect(file.types['t.default.float']).toBe('f32');
      expect(file.types['t.default.neg']).toBe('i32');
      expect(file.types['t.default.strings']).toBe('array:string');
      expect(file.metadata['general.alignment']).toBe(alignment === 32 ? undefined : alignment);
      const src = tensors();
      expect(file.tensors.map((t) => t.name)).toEqual(src.map((t) => t.name));
      file.tensors.forEach((t, i) => {
        expect(t.dims).toEqual(src[i].dims);
        expect(t.type).toBe(src[i].type);
        expect(t.offset % alignment).toBe(0);
        expect(Array.from(ggufTensorBytes(file, t))).toEqual(Array.from(src[i].data));
      });
      // Reading and writing again reproduces the file byte for byte.
      const again = writeGGUF({ metadata: metadataEntries(file), tensors: src });
      expect(Buffer.compare(again, written)).toBe(0);
    }
  });

  it('the f32 value written is the float32 rounding of the number', () => {
    const file = parseGGUF(writeGGUF({ metadata: [['x', 0.1, 'f32']], tensors: [] }), 'f.gguf');
    expect(file.metadata.x).toBe(Math.fround(0.1));
  });

  it('parses a version 2 file (same layout as v3)', () => {
    const bytes = writeGGUF({ metadata: [['a', 1]], tensors: [{ name: 't', dims: [2], type: 0, data: new Uint8Array(8) }] });
    new DataView(bytes.buffer).setUint32(4, 2, true);
    const file = parseGGUF(bytes, 'v2.gguf');
    expect(file.version).toBe(2);
    expect(file.tensors[0].byteLength).toBe(8);
  });

  it('refuses values that do not fit their type', () => {
    expect(() => writeGGUF({ metadata: [['k', 256, 'u8']], tensors: [] })).toThrow(/"k".*u8/);
    expect(() => writeGGUF({ metadata: [['k', 1.5, 'i32']], tensors: [] })).toThrow(/"k"/);
    expect(() => writeGGUF({ metadata: [['k', 'x', 'array:string']], tensors: [] })).toThrow(/not an array/);
    expect(() => writeGGUF({ metadata: [['k', 1], ['k', 2]], tensors: [] })).toThrow(/duplicate metadata key "k"/);
    expect(() => writeGGUF({ metadata: [], tensors: [{ name: 't', dims: [3], type: 0, data: new Uint8Array(8) }] })).toThrow(/8 bytes.*12/);
  });
});

describe('models → GGUF → models', () => {
  it('f32 models, shared and separate classifier, round-trip bit for bit', () => {
    for (const sharedClassifier of [true, false]) {
      const model = randomModel(tinyConfig({ sharedClassifier, normEps: 1e-6, ropeTheta: 500000 }), 3);
      const loaded = loadModelFromBytes(ggufFromModel(model), 'm.gguf');
      expect(loaded.format).toBe('gguf');
      expect(loaded.model.config).toEqual(model.config);
      expect(sameParameters(model, loaded.model).differing).toEqual([]);
      expect(loaded.model.weights.output === loaded.model.weights.tokenEmbedding).toBe(sharedClassifier);
    }
  });

  it('f16, q8_0 and q4_0 matrices load as their own dtype with the same bytes', () => {
    const config = tinyConfig({ dim: 32, hiddenDim: 64, nHeads: 4, nKvHeads: 2, vocabSize: 8 });
    const model = randomModel(config, 5);
    const next = rng(9);
    const blocks = (t: WeightTensor, dtype: 'q8_0' | 'q4_0'): WeightTensor => {
      const n = (t.rows * t.cols) / 32;
      const size = dtype === 'q8_0' ? 34 : 18;
      const data = Uint8Array.from({ length: n * size }, () => Math.floor(next() * 256));
      for (let b = 0; b < n; b++) new DataView(data.buffer).setUint16(b * size, f32ToF16(0.01), true);
      return { dtype, rows: t.rows, cols: t.cols, data };
    };
    const f16 = (t: WeightTensor): WeightTensor => ({ ...t, dtype: 'f16', data: Uint16Array.from(t.data as Float32Array, f32ToF16) });
    const l = model.weights.layers[0];
    l.wq = f16(l.wq);
    l.wk = blocks(l.wk, 'q8_0');
    l.w2 = blocks(l.w2, 'q4_0');
    const loaded = loadModelFromBytes(ggufFromModel(model), 'quant.gguf').model;
    const m = loaded.weights.layers[0];
    expect([m.wq.dtype, m.wk.dtype, m.w2.dtype, m.wv.dtype]).toEqual(['f16', 'q8_0', 'q4_0', 'f32']);
    expect(m.wk.rows).toBe(kvDim(config));
    expect(sameParameters(model, loaded).differing).toEqual([]);
    const wk = toF32(m.wk);
    expect(wk.every((v) => Math.abs(v) <= 0.0101 * 128)).toBe(true);
    expect(wk.some((v) => Math.abs(v) > 0.5)).toBe(true);
  });

  it('F16 norm gains are converted to float32', () => {
    const model = randomModel(tinyConfig(), 11);
    const bytes = ggufFromModel(model);
    const file = parseGGUF(bytes, 'x');
    const entries = file.tensors.map((t): GGUFWriteTensor => {
      const data = ggufTensorBytes(file, t);
      if (t.name !== 'output_norm.weight') return { name: t.name, dims: t.dims, type: t.type, data };
      const halves = Uint16Array.from(new Float32Array(data.slice().buffer), f32ToF16);
      return { name: t.name, dims: t.dims, type: 1, data: new Uint8Array(halves.buffer) };
    });
    const loaded = ggufToModel(parseGGUF(writeGGUF({ metadata: metadataEntries(file), tensors: entries }), 'n.gguf'), 'n.gguf');
    expect(loaded.weights.norm).toBeInstanceOf(Float32Array);
    model.weights.norm.forEach((v, i) => expect(loaded.weights.norm[i]).toBeCloseTo(v, 3));
  });
});
