// RoPE scaling: Llama 3.1's per-pair factors and linear scaling, read from Hugging Face
// config.json (rope_scaling) and GGUF (rope_freqs.weight, llama.rope.scaling.*) into the one
// list config.ropeFreqFactors, written back to both, and refused with clear errors where a
// file asks for something else. Parity with llama.cpp is in llama3-llamacpp.test.ts.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, test } from 'vitest';
import { validateConfig, type LlamaConfig } from '../reference/config.js';
import { llama3FreqFactors, rope, ropeFrequencies } from '../reference/rope.js';
import { ggufFromModel } from '../src/formats/gguf-model.js';
import { parseGGUF, writeGGUF } from '../src/formats/gguf.js';
import { huggingFaceRopeScaling, parseHuggingFaceConfig } from '../src/formats/huggingface.js';
import { writeLlama2c } from '../src/formats/llama2c.js';
import { loadModelFromBytes } from '../src/formats/load-bytes.js';
import { readModelFileLayout } from '../src/formats/load-header.js';
import { randomModel, tinyConfig } from './formats-helpers.js';

const LLAMA31 = { factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContextLength: 8192 };
const dir = mkdtempSync(join(tmpdir(), 'rope-scaling-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// config.json of Llama 3.1 8B's shape, trimmed to what the parser reads.
function llama31Json(over: Record<string, unknown> = {}): string {
  return JSON.stringify({
    architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 4096, intermediate_size: 14336,
    num_hidden_layers: 32, num_attention_heads: 32, num_key_value_heads: 8, vocab_size: 128256,
    max_position_embeddings: 131072, rms_norm_eps: 1e-5, rope_theta: 500000,
    rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
    ...over,
  });
}

describe('the factors', () => {
  test("Llama 3.1's: short waves kept, long waves divided by factor, a monotone blend between", () => {
    const f = llama3FreqFactors(128, 500000, LLAMA31);
    expect(f).toHaveLength(64);
    expect(f[0]).toBe(1);
    expect(f[63]).toBe(8);
    // λ_i = 2π·500000^(i/64): below 8192/4 kept, above 8192 stretched
    f.forEach((x, i) => {
      const wavelen = 2 * Math.PI * Math.pow(500000, (2 * i) / 128);
      if (wavelen < 2048) expect(x).toBe(1);
      else if (wavelen > 8192) expect(x).toBe(8);
      else expect(x > 1 && x < 8).toBe(true);
      if (i > 0) expect(x).toBeGreaterThanOrEqual(f[i - 1]);
    });
    expect(f.filter((x) => x > 1 && x < 8).length).toBeGreaterThanOrEqual(2);
  });

  test('linear scaling divides positions: RoPE at position p·f with factor f is RoPE at p unscaled', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 300 }), fc.integer({ min: 2, max: 8 }), (half, p, f) => {
      const hd = 2 * half;
      const x = Float32Array.from({ length: hd }, (_, i) => Math.sin(i + 1));
      const scaled = x.slice(), plain = x.slice();
      rope(scaled, 1, 1, hd, p * f, ropeFrequencies(hd, 10000, new Array(half).fill(f)));
      rope(plain, 1, 1, hd, p, ropeFrequencies(hd, 10000));
      for (let i = 0; i < hd; i++) expect(scaled[i]).toBeCloseTo(plain[i], 5);
    }));
  });

  test('validateConfig: one positive factor per pair', () => {
    expect(() => validateConfig(tinyConfig({ ropeFreqFactors: [1, 2, 3] }), 'm.gguf')).toThrow(/m\.gguf: ropeFreqFactors has 3 values, the head dimension needs 2/);
    expect(() => validateConfig(tinyConfig({ ropeFreqFactors: [1, 0] }), 'm.gguf')).toThrow(/ropeFreqFactors\[1\] must be positive, got 0/);
  });
});

describe('Hugging Face config.json', () => {
  test('rope_scaling llama3 and linear, also as "type" and as transformers 5 rope_parameters', () => {
    expect(parseHuggingFaceConfig(llama31Json(), 'c.json').config.ropeFreqFactors).toEqual(llama3FreqFactors(128, 500000, LLAMA31));
    const linear = parseHuggingFaceConfig(llama31Json({ rope_scaling: { type: 'linear', factor: 2 } }), 'c.json').config;
    expect(linear.ropeFreqFactors).toEqual(new Array(64).fill(2));
    const v5 = parseHuggingFaceConfig(llama31Json({ rope_scaling: undefined, rope_parameters: { rope_type: 'linear', factor: 4, rope_theta: 500000 } }), 'c.json');
    expect(v5.config.ropeFreqFactors).toEqual(new Array(64).fill(4));
    expect(parseHuggingFaceConfig(llama31Json({ rope_scaling: null }), 'c.json').config.ropeFreqFactors).toBeUndefined();
    expect(parseHuggingFaceConfig(llama31Json({ rope_scaling: { rope_type: 'default' } }), 'c.json').config.ropeFreqFactors).toBeUndefined();
  });

  test('clear errors for scalings llama-ts does not compute', () => {
    const parse = (s: unknown) => () => parseHuggingFaceConfig(llama31Json({ rope_scaling: s }), 'm/config.json');
    expect(parse({ rope_type: 'dynamic', factor: 2 })).toThrow(/m\/config\.json: rope_scaling\.rope_type "dynamic" is not supported/);
    expect(parse({ rope_type: 'linear' })).toThrow(/m\/config\.json: rope_scaling\.factor must be a positive number, got undefined/);
    expect(parse({ rope_type: 'llama3', factor: 8, low_freq_factor: 4, high_freq_factor: 1, original_max_position_embeddings: 8192 }))
      .toThrow(/rope_scaling\.high_freq_factor 1 must exceed low_freq_factor 4/);
    expect(parse([2])).toThrow(/rope_scaling must be an object or null/);
  });

  test('written back: the settings that reproduce the factors, also from a GGUF\'s float32 factors', () => {
    const config = (factors?: number[]): LlamaConfig => ({ ...parseHuggingFaceConfig(llama31Json(), 'c.json').config, ropeFreqFactors: factors });
    expect(huggingFaceRopeScaling(config(undefined))).toBeNull();
    expect(huggingFaceRopeScaling(config(new Array(64).fill(3)))).toEqual({ rope_type: 'linear', factor: 3 });
    const fromGguf = Array.from(Float32Array.from(llama3FreqFactors(128, 500000, LLAMA31)));
    expect(huggingFaceRopeScaling(config(fromGguf))).toEqual({
      rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192,
    });
    // other settings, found from the blended pairs (N is only a scale: low and high follow it)
    const other = Array.from(Float32Array.from(llama3FreqFactors(128, 500000, { factor: 16, lowFreqFactor: 2, highFreqFactor: 8, originalContextLength: 8192 })));
    expect(huggingFaceRopeScaling(config(other))).toEqual({
      rope_type: 'llama3', factor: 16, low_freq_factor: 2, high_freq_factor: 8, original_max_position_embeddings: 8192,
    });
    const odd = Array.from({ length: 64 }, (_, i) => (i % 2 ? 2 : 1));
    expect(() => huggingFaceRopeScaling(config(odd))).toThrow(/neither linear nor Llama 3\.1 scaling, which config\.json cannot express/);
  });
});

describe('GGUF', () => {
  const hd = 8; // tinyConfig({ dim: 16, nHeads: 2 }): 4 pairs
  const scaled = (factors: number[]) => randomModel(tinyConfig({ dim: 16, nHeads: 2, ropeTheta: 500000, ropeFreqFactors: factors }));

  test('Llama 3.1 factors as rope_freqs.weight (F32 [hd/2]); linear as llama.rope.scaling.type/factor; read back', () => {
    const factors = llama3FreqFactors(hd, 500000, { factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalContextLength: 64 });
    const bytes = ggufFromModel(scaled(factors));
    const file = parseGGUF(bytes, 'l3.gguf');
    const t = file.tensors.find((x) => x.name === 'rope_freqs.weight')!;
    expect([t.type, t.dims]).toEqual([0, [4]]);
    expect(file.metadata['llama.rope.scaling.type']).toBeUndefined();
    expect(loadModelFromBytes(bytes, 'l3.gguf').model.config.ropeFreqFactors).toEqual(Array.from(Float32Array.from(factors)));
    // the header-only path (the WASM loader's) reads the small tensor itself
    const path = join(dir, 'l3.gguf');
    writeFileSync(path, bytes);
    expect(readModelFileLayout(path).layout.config.ropeFreqFactors).toEqual(Array.from(Float32Array.from(factors)));

    const linear = parseGGUF(ggufFromModel(scaled([4, 4, 4, 4])), 'lin.gguf');
    expect([linear.metadata['llama.rope.scaling.type'], linear.metadata['llama.rope.scaling.factor']]).toEqual(['linear', 4]);
    expect(linear.tensors.some((x) => x.name === 'rope_freqs.weight')).toBe(false);
    expect(loadModelFromBytes(ggufFromModel(scaled([4, 4, 4, 4])), 'lin.gguf').model.config.ropeFreqFactors).toEqual([4, 4, 4, 4]);
    expect(parseGGUF(ggufFromModel(scaled([1, 1, 1, 1])), 'none.gguf').metadata['llama.rope.scaling.type']).toBeUndefined();
  });

  test('linear and rope_freqs together multiply, as in llama.cpp; no scaling reads as undefined', () => {
    const file = parseGGUF(ggufFromModel(scaled([1, 2, 3, 4])), 'x.gguf');
    const metadata = [...Object.entries(file.metadata).map(([k, v]) => [k, v, file.types[k]] as const), ['llama.rope.scaling.factor', 2, 'f32'] as const];
    const tensors = file.tensors.map((t) => ({ name: t.name, dims: t.dims, type: t.type, data: file.bytes.subarray(t.offset, t.offset + t.byteLength) }));
    const both = writeGGUF({ metadata: metadata as never, tensors });
    expect(loadModelFromBytes(both, 'both.gguf').model.config.ropeFreqFactors).toEqual([2, 4, 6, 8]);
    expect(loadModelFromBytes(ggufFromModel(randomModel(tinyConfig())), 'plain.gguf').model.config.ropeFreqFactors).toBeUndefined();
  });

  test('clear errors: a yarn model, a rope_freqs.weight of the wrong shape or type, a non-positive factor', () => {
    const file = parseGGUF(ggufFromModel(scaled([1, 2, 3, 4])), 'x.gguf');
    const rewrite = (meta: [string, unknown, string][], freqs?: { dims: number[]; type: number; data: Uint8Array }) => {
      const metadata = [...Object.entries(file.metadata).map(([k, v]) => [k, v, file.types[k]]), ...meta];
      const tensors = file.tensors.map((t) => ({
        name: t.name, dims: t.dims, type: t.type, data: file.bytes.subarray(t.offset, t.offset + t.byteLength),
        ...(t.name === 'rope_freqs.weight' && freqs ? freqs : {}),
      }));
      return () => loadModelFromBytes(writeGGUF({ metadata: metadata as never, tensors }), 'bad.gguf');
    };
    expect(rewrite([['llama.rope.scaling.type', 'yarn', 'string']])).toThrow(/bad\.gguf: llama\.rope\.scaling\.type "yarn" is not supported/);
    expect(rewrite([['llama.rope.scaling.factor', -2, 'f32']])).toThrow(/bad\.gguf: llama\.rope\.scaling\.factor is -2, must be a positive number/);
    expect(rewrite([], { dims: [3], type: 0, data: new Uint8Array(12) })).toThrow(/bad\.gguf: tensor rope_freqs\.weight \(F32 \[3\]\) should be F32 with dims \[4\]/);
    expect(rewrite([], { dims: [4], type: 1, data: new Uint8Array(8) })).toThrow(/bad\.gguf: tensor rope_freqs\.weight \(F16 \[4\]\) should be F32/);
    expect(rewrite([], { dims: [4], type: 0, data: new Uint8Array(new Float32Array([1, -2, 1, 1]).buffer) })).toThrow(/bad\.gguf: rope_freqs\.weight\[1\] is -2, must be a positive number/);
  });

  test('llama2.c files cannot hold RoPE scaling: writing one is refused', () => {
    expect(() => writeLlama2c(randomModel(tinyConfig({ ropeFreqFactors: [1, 2] })), 0)).toThrow(/llama2\.c files have no RoPE scaling/);
  });
});
