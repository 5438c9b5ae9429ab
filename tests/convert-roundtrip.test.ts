// Conversions between GGUF, llama2.c and Hugging Face folders: F32 round trips A → B → A
// are bit-identical, logits survive, quantized GGUF output holds ggml's bytes, the
// vocabulary travels inside GGUF, and the CLI parses what it should.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { LlamaConfig } from '../reference/config.js';
import { randomModel } from '../reference/init.js';
import { createKVCache, forward } from '../reference/model.js';
import { toF32 } from '../reference/tensor.js';
import { tsKernels } from '../reference/ts-kernels.js';
import type { LlamaModel } from '../reference/weights.js';
import { convertCommand } from '../src/cli/convert.js';
import { convertModel, outputFormatOf } from '../src/convert/convert.js';
import { modelToGGUF } from '../src/convert/to-gguf.js';
import { llama2cTokenizerBytes } from '../src/tokenizer/llama2c-tokenizer.js';
import { readHuggingFaceFolder } from '../src/formats/huggingface-folder.js';
import { loadModel } from '../src/formats/load-file.js';
import { parseGGUF } from '../src/formats/gguf.js';
import { quantize } from '../src/quant/quantize.js';
import { vocabularyFromGGUF } from '../src/tokenizer/gguf-vocabulary.js';
import { vocabularyFromSentencePieceModel } from '../src/tokenizer/sentencepiece-model.js';
import { dataPath, parameterBytes } from './formats-helpers.js';

const STORIES_BIN = dataPath('stories260K/stories260K.bin');
const STORIES_GGUF = dataPath('stories260K/stories260K.gguf');
const TOK512_MODEL = dataPath('stories260K/tok512.model');
const TOK512_BIN = dataPath('stories260K/tok512.bin');

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'convert-roundtrip-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const p = (name: string) => join(dir, name);
const bytes = (path: string) => new Uint8Array(readFileSync(path));
// The first offset where two byte arrays differ (or the shorter length), -1 if equal: a
// cheap comparison with a useful failure value for megabyte files.
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  if (a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length))) return -1;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}
const sameFile = (a: string, b: string) => expect(firstDifference(bytes(a), bytes(b))).toBe(-1);
const folderFiles = (d: string) => new Map(readdirSync(d).sort().map((f) => [f, bytes(join(d, f))]));

function logits(m: LlamaModel, tokens = [1, 403, 407, 261, 378]): Float32Array {
  return forward(m, tsKernels, createKVCache(m.config, tokens.length), tokens, 0, { allLogits: true });
}

describe('F32 round trips are bit-identical', () => {
  test('GGUF → llama2.c (v0 and v1) → GGUF', () => {
    convertModel(STORIES_GGUF, p('a.gguf'));
    const [ours, theirs] = [parameterBytes(loadModel(p('a.gguf')).model), parameterBytes(loadModel(STORIES_GGUF).model)];
    expect([...ours.keys()]).toEqual([...theirs.keys()]);
    for (const [name, t] of ours) expect([name, t.dtype, firstDifference(t.bytes, theirs.get(name)!.bytes)]).toEqual([name, 'f32', -1]);
    for (const version of [0, 1] as const) {
      convertModel(p('a.gguf'), p(`b${version}.bin`), { llama2cVersion: version });
      convertModel(p(`b${version}.bin`), p(`c${version}.gguf`), { tokenizer: p('a.gguf') });
      sameFile(p(`c${version}.gguf`), p('a.gguf'));
      convertModel(p(`c${version}.gguf`), p(`d${version}.bin`), { llama2cVersion: version });
      sameFile(p(`d${version}.bin`), p(`b${version}.bin`));
    }
  });

  test('llama2.c → GGUF → llama2.c reproduces stories260K.bin: header and weights exactly, RoPE tables to 3e-6', () => {
    convertModel(STORIES_BIN, p('s.gguf'), { tokenizer: TOK512_MODEL });
    convertModel(p('s.gguf'), p('s.bin'));
    const original = bytes(STORIES_BIN);
    const back = bytes(p('s.bin'));
    expect(back.length).toBe(original.length);
    // v0 layout: 28-byte header, weights up to the final norm, then freq_cis_real/imag
    // [512, 4] each. The tables were made by torch in float32 and are recomputed by
    // writeLlama2c in float64 (run.c never reads them), so they differ in the last bits.
    const C = 64, H = 172, V = 512, KV = 32, L = 5;
    const ropeStart = 28 + 4 * (V * C + L * (2 * C + 2 * C * C + 2 * KV * C + 3 * H * C) + C);
    expect(firstDifference(back.subarray(0, ropeStart), original.subarray(0, ropeStart))).toBe(-1);
    const tables = (b: Uint8Array) => new Float32Array(b.slice(ropeStart).buffer);
    const [ours, theirs] = [tables(back), tables(original)];
    expect(ours.length).toBe(2 * 512 * 4);
    expect(ours.reduce((m, x, i) => Math.max(m, Math.abs(x - theirs[i])), 0)).toBeLessThan(3e-6);
    // From our own export on, the round trip is exact.
    convertModel(p('s.bin'), p('s2.gguf'), { tokenizer: TOK512_MODEL });
    convertModel(p('s2.gguf'), p('s2.bin'));
    sameFile(p('s2.bin'), p('s.bin'));
  });

  test('GGUF → HF → GGUF, tokenizer.json carrying the vocabulary', () => {
    convertModel(STORIES_GGUF, p('a.gguf'));
    const r = convertModel(p('a.gguf'), p('hf-a'));
    expect(r.format).toBe('hf');
    expect(r.notes.join()).toMatch(/no tokenizer\.model written .* wrote tokenizer\.json instead/);
    expect([...folderFiles(p('hf-a')).keys()]).toEqual(['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
    convertModel(p('hf-a'), p('a2.gguf'));
    sameFile(p('a2.gguf'), p('a.gguf'));
  });

  test('HF → GGUF → HF, tokenizer.model kept byte for byte', () => {
    convertModel(STORIES_BIN, p('hf-s'), { tokenizer: TOK512_MODEL });
    expect(bytes(join(p('hf-s'), 'tokenizer.model'))).toEqual(bytes(TOK512_MODEL));
    convertModel(p('hf-s'), p('hf-s.gguf'));
    convertModel(p('hf-s.gguf'), p('hf-s2'), { tokenizer: TOK512_MODEL });
    expect([...folderFiles(p('hf-s2')).keys()]).toEqual(['config.json', 'model.safetensors', 'tokenizer.model', 'tokenizer_config.json']);
    for (const f of folderFiles(p('hf-s')).keys()) sameFile(join(p('hf-s2'), f), join(p('hf-s'), f));
    // llama2.c → HF → llama2.c as well
    convertModel(STORIES_BIN, p('l0.bin'));
    convertModel(p('hf-s'), p('hf-s.bin'));
    sameFile(p('hf-s.bin'), p('l0.bin'));
  });

  test('a HF export read back gives the same logits, bit for bit', () => {
    const original = loadModel(STORIES_BIN).model;
    convertModel(STORIES_BIN, p('hf-l'));
    const back = readHuggingFaceFolder(p('hf-l')).model;
    expect(logits(back)).toEqual(logits(original));
  });
});

describe('storage types', () => {
  const config: LlamaConfig = {
    dim: 64, nLayers: 1, nHeads: 4, nKvHeads: 2, hiddenDim: 96, vocabSize: 512, maxSeqLen: 32,
    normEps: 1e-5, ropeTheta: 10000, sharedClassifier: false,
  };
  const model = randomModel(config, 5, { std: 0.2 });

  test.each([['q8_0', 7], ['q4_0', 2], ['f16', 1], ['f32', 0]] as const)('GGUF %s holds the reference quantizer bytes, general.file_type %i', (type, fileType) => {
    const path = p(`q-${type}.gguf`);
    const src = p('q-src.gguf');
    writeFileSync(src, modelToGGUF(model));
    convertModel(src, path, { type, tokenizer: TOK512_MODEL });
    const file = parseGGUF(bytes(path), path);
    expect(file.metadata['general.file_type']).toBe(fileType);
    const back = loadModel(path).model;
    const wq = back.weights.layers[0].wq;
    expect(wq.dtype).toBe(type);
    const expected = quantize(toF32(model.weights.layers[0].wq), 64, 64, type);
    expect(new Uint8Array(wq.data.buffer, wq.data.byteOffset, wq.data.byteLength)).toEqual(new Uint8Array(expected.data.buffer));
    expect(back.weights.norm).toEqual(model.weights.norm); // norms stay f32
    expect(vocabularyFromGGUF(file.metadata, path).pieces.length).toBe(512);
  });

  test('HF F16 / BF16 write torch_dtype and read back close to the original', () => {
    for (const [type, torch] of [['f16', 'float16'], ['bf16', 'bfloat16']] as const) {
      const out = p(`hf-${type}`);
      convertModel(STORIES_BIN, out, { type });
      expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).torch_dtype).toBe(torch);
      const a = logits(loadModel(STORIES_BIN).model), b = logits(readHuggingFaceFolder(out).model);
      const maxDiff = a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
      expect(maxDiff).toBeGreaterThan(0); // really converted
      expect(maxDiff).toBeLessThan(type === 'f16' ? 0.02 : 0.2);
    }
  });

  test('types a format cannot hold are refused; rows that are not whole blocks stay f16, with a note', () => {
    expect(() => convertModel(STORIES_BIN, p('x.gguf'), { type: 'bf16' })).toThrow('--type bf16 cannot be written as gguf (gguf takes f32, f16, q8_0, q4_0, q4_1, q5_0, q5_1, iq4_nl, q2_k, q3_k, q4_k, q5_k, q6_k, q3_k_s, q3_k_m, q3_k_l, q4_k_s, q4_k_m, q5_k_s, q5_k_m)');
    expect(() => convertModel(STORIES_BIN, p('x'), { type: 'q8_0' })).toThrow('--type q8_0 cannot be written as hf');
    expect(() => convertModel(STORIES_BIN, p('x.bin'), { type: 'f16' })).toThrow('--type f16 cannot be written as llama2c');
    // stories260K's hidden size 172 is not a multiple of 32: w2's rows cannot be q4_0 blocks
    const r = convertModel(STORIES_BIN, p('x.gguf'), { type: 'q4_0' });
    expect(r.notes.join('\n')).toMatch(/stored as f16, rows not a multiple of 32 values: layers\.0\.feed_forward\.w2\.weight, .*layers\.4\.feed_forward\.w2\.weight/);
    const q = loadModel(p('x.gguf')).model.weights.layers[0];
    expect([q.wq.dtype, q.w1.dtype, q.w2.dtype]).toEqual(['q4_0', 'q4_0', 'f16']);
    expect(() => convertModel(STORIES_BIN, p('x.gguf'), { tokenizer: dataPath('llama-tokenizer/tokenizer.model') }))
      .toThrow(/tokenizer\.model: the tokenizer has 32000 tokens but the model's vocabulary has 512/);
    expect(() => outputFormatOf('model.pt')).toThrow(/cannot tell the output format from "\.pt"/);
  });
});

describe('vocabulary inside GGUF, tokenizer.bin', () => {
  test('tokenizer.ggml.* metadata reads back as the same vocabulary', () => {
    convertModel(STORIES_BIN, p('v.gguf'), { tokenizer: TOK512_MODEL });
    const file = parseGGUF(bytes(p('v.gguf')), 'v.gguf');
    const original = vocabularyFromSentencePieceModel(bytes(TOK512_MODEL), 'tok512.model');
    const back = vocabularyFromGGUF(file.metadata, 'v.gguf');
    const { nfkc: _, ...rest } = original;
    expect(back).toEqual(rest);
    expect(file.types['tokenizer.ggml.token_type']).toBe('array:i32');
    expect(file.metadata['tokenizer.ggml.add_bos_token']).toBe(true);
  });

  test('llama2cTokenizerBytes writes tok512.bin exactly', () => {
    const vocab = vocabularyFromSentencePieceModel(bytes(TOK512_MODEL), 'tok512.model');
    const written = llama2cTokenizerBytes(vocab);
    const expected = bytes(TOK512_BIN);
    expect(firstDifference(written, expected)).toBe(-1);
  });

  test('a llama2.c input without --tokenizer makes a GGUF with a note', () => {
    const r = convertModel(STORIES_BIN, p('nv.gguf'));
    expect(r.notes).toEqual(['no vocabulary: the GGUF has no tokenizer.ggml.* keys, so llama.cpp cannot run it (pass --tokenizer)']);
    expect('tokenizer.ggml.tokens' in parseGGUF(bytes(p('nv.gguf')), 'nv.gguf').metadata).toBe(false);
  });
});

describe('llama-ts convert (CLI)', () => {
  test('parses IN OUT --type --to --tokenizer and writes the file', async () => {
    const out = p('cli.gguf');
    expect(await convertCommand([STORIES_BIN, out, '--type', 'f16', '--tokenizer', TOK512_MODEL])).toBe(0);
    expect(loadModel(out).model.weights.layers[0].wq.dtype).toBe('f16');
    expect(await convertCommand([out, p('cli-out'), '--to', 'llama2c'])).toBe(0);
    expect(loadModel(p('cli-out')).format).toBe('llama2c');
  });

  test('refuses bad flags with messages naming them', async () => {
    await expect(convertCommand([STORIES_BIN])).rejects.toThrow('convert needs IN and OUT');
    await expect(convertCommand([STORIES_BIN, p('y.gguf'), '--type', 'iq2_xs'])).rejects.toThrow('--type expects one of f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, iq4_nl, q2_k, q3_k, q4_k, q5_k, q6_k, q3_k_s, q3_k_m, q3_k_l, q4_k_s, q4_k_m, q5_k_s, q5_k_m, got "iq2_xs"');
    await expect(convertCommand([STORIES_BIN, p('y.gguf'), '--to', 'onnx'])).rejects.toThrow('--to expects one of gguf, llama2c, hf');
    await expect(convertCommand([STORIES_BIN, p('y.gguf'), '--llama2c-version', '2'])).rejects.toThrow('--llama2c-version expects one of 0, 1');
    await expect(convertCommand([p('missing.gguf'), p('y.gguf')])).rejects.toThrow(/missing\.gguf/);
  });
});
