// llama.cpp's K-quant mixtures (src/convert/mixtures.ts): the type of every matrix of a 4- and
// an 8-layer llama model for each mixture, against a table written out by hand from
// llama.cpp's src/llama-quant.cpp (llama_tensor_get_type_impl, no importance matrix):
//   output.weight: q6_k (q8_0 when its rows are not whole blocks of 256)
//   attn_v:  Q2_K q3_k (q4_k with 4+ query heads per KV head); Q3_K_M q5_k on layers 0-1, else
//            q4_k; Q3_K_L q5_k; Q4_K_S q5_k on layers 0-3; Q4_K_M, Q5_K_M q6_k where
//            use_more_bits(l, n) = l < n/8 || l >= 7n/8 || (l - n/8) % 3 == 2
//   ffn_down: Q2_K q3_k; Q3_K_M q5_k below n/16, else q4_k; Q3_K_L q5_k; Q4_K_S q5_k below
//            n/8; Q4_K_M, Q5_K_M q6_k where use_more_bits
//   attn_output: Q2_K q3_k; Q3_K_M q4_k; Q3_K_L q5_k
//   everything else (token_embd unless tied, attn_q, attn_k, ffn_gate, ffn_up): the base type
// use_more_bits: 4 layers -> layers 2, 3; 8 layers -> layers 0, 3, 6, 7.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import type { LlamaConfig } from '../reference/config.js';
import { randomModel } from '../reference/init.js';
import type { DType } from '../reference/tensor.js';
import type { LlamaModel } from '../reference/weights.js';
import { convertModel } from '../src/convert/convert.js';
import { MIXTURE_FILE_TYPE, MIXTURE_NAMES, useMoreBits, type MixtureName } from '../src/convert/mixtures.js';
import { quantizeFile } from '../src/convert/quantize-file.js';
import { mixturePlan, quantizeModelMixture } from '../src/convert/storage.js';
import { modelToGGUF } from '../src/convert/to-gguf.js';
import { loadModel } from '../src/formats/load-file.js';
import { loadModelFromBytes } from '../src/formats/load-bytes.js';

interface Row {
  output: DType;
  tokenEmbedding: DType;
  attnV: string; // per layer, space-separated
  ffnDown: string;
  attnOutput: DType;
  rest: DType; // attn_q, attn_k, ffn_gate, ffn_up
}

// Written out from llama-quant.cpp, not computed.
const FOUR_LAYERS: Record<MixtureName, Row> = {
  q2_k: { output: 'q6_k', tokenEmbedding: 'q2_k', attnV: 'q3_k q3_k q3_k q3_k', ffnDown: 'q3_k q3_k q3_k q3_k', attnOutput: 'q3_k', rest: 'q2_k' },
  q3_k_s: { output: 'q6_k', tokenEmbedding: 'q3_k', attnV: 'q3_k q3_k q3_k q3_k', ffnDown: 'q3_k q3_k q3_k q3_k', attnOutput: 'q3_k', rest: 'q3_k' },
  q3_k_m: { output: 'q6_k', tokenEmbedding: 'q3_k', attnV: 'q5_k q5_k q4_k q4_k', ffnDown: 'q4_k q4_k q4_k q4_k', attnOutput: 'q4_k', rest: 'q3_k' },
  q3_k_l: { output: 'q6_k', tokenEmbedding: 'q3_k', attnV: 'q5_k q5_k q5_k q5_k', ffnDown: 'q5_k q5_k q5_k q5_k', attnOutput: 'q5_k', rest: 'q3_k' },
  q4_k_s: { output: 'q6_k', tokenEmbedding: 'q4_k', attnV: 'q5_k q5_k q5_k q5_k', ffnDown: 'q4_k q4_k q4_k q4_k', attnOutput: 'q4_k', rest: 'q4_k' },
  q4_k_m: { output: 'q6_k', tokenEmbedding: 'q4_k', attnV: 'q4_k q4_k q6_k q6_k', ffnDown: 'q4_k q4_k q6_k q6_k', attnOutput: 'q4_k', rest: 'q4_k' },
  q5_k_s: { output: 'q6_k', tokenEmbedding: 'q5_k', attnV: 'q5_k q5_k q5_k q5_k', ffnDown: 'q5_k q5_k q5_k q5_k', attnOutput: 'q5_k', rest: 'q5_k' },
  q5_k_m: { output: 'q6_k', tokenEmbedding: 'q5_k', attnV: 'q5_k q5_k q6_k q6_k', ffnDown: 'q5_k q5_k q6_k q6_k', attnOutput: 'q5_k', rest: 'q5_k' },
  q6_k: { output: 'q6_k', tokenEmbedding: 'q6_k', attnV: 'q6_k q6_k q6_k q6_k', ffnDown: 'q6_k q6_k q6_k q6_k', attnOutput: 'q6_k', rest: 'q6_k' },
};

const EIGHT_LAYERS: Record<MixtureName, Row> = {
  q2_k: { output: 'q6_k', tokenEmbedding: 'q2_k', attnV: 'q3_k q3_k q3_k q3_k q3_k q3_k q3_k q3_k', ffnDown: 'q3_k q3_k q3_k q3_k q3_k q3_k q3_k q3_k', attnOutput: 'q3_k', rest: 'q2_k' },
  q3_k_s: { output: 'q6_k', tokenEmbedding: 'q3_k', attnV: 'q3_k q3_k q3_k q3_k q3_k q3_k q3_k q3_k', ffnDown: 'q3_k q3_k q3_k q3_k q3_k q3_k q3_k q3_k', attnOutput: 'q3_k', rest: 'q3_k' },
  q3_k_m: { output: 'q6_k', tokenEmbedding: 'q3_k', attnV: 'q5_k q5_k q4_k q4_k q4_k q4_k q4_k q4_k', ffnDown: 'q4_k q4_k q4_k q4_k q4_k q4_k q4_k q4_k', attnOutput: 'q4_k', rest: 'q3_k' },
  q3_k_l: { output: 'q6_k', tokenEmbedding: 'q3_k', attnV: 'q5_k q5_k q5_k q5_k q5_k q5_k q5_k q5_k', ffnDown: 'q5_k q5_k q5_k q5_k q5_k q5_k q5_k q5_k', attnOutput: 'q5_k', rest: 'q3_k' },
  q4_k_s: { output: 'q6_k', tokenEmbedding: 'q4_k', attnV: 'q5_k q5_k q5_k q5_k q4_k q4_k q4_k q4_k', ffnDown: 'q5_k q4_k q4_k q4_k q4_k q4_k q4_k q4_k', attnOutput: 'q4_k', rest: 'q4_k' },
  q4_k_m: { output: 'q6_k', tokenEmbedding: 'q4_k', attnV: 'q6_k q4_k q4_k q6_k q4_k q4_k q6_k q6_k', ffnDown: 'q6_k q4_k q4_k q6_k q4_k q4_k q6_k q6_k', attnOutput: 'q4_k', rest: 'q4_k' },
  q5_k_s: { output: 'q6_k', tokenEmbedding: 'q5_k', attnV: 'q5_k q5_k q5_k q5_k q5_k q5_k q5_k q5_k', ffnDown: 'q5_k q5_k q5_k q5_k q5_k q5_k q5_k q5_k', attnOutput: 'q5_k', rest: 'q5_k' },
  q5_k_m: { output: 'q6_k', tokenEmbedding: 'q5_k', attnV: 'q6_k q5_k q5_k q6_k q5_k q5_k q6_k q6_k', ffnDown: 'q6_k q5_k q5_k q6_k q5_k q5_k q6_k q6_k', attnOutput: 'q5_k', rest: 'q5_k' },
  q6_k: { output: 'q6_k', tokenEmbedding: 'q6_k', attnV: 'q6_k q6_k q6_k q6_k q6_k q6_k q6_k q6_k', ffnDown: 'q6_k q6_k q6_k q6_k q6_k q6_k q6_k q6_k', attnOutput: 'q6_k', rest: 'q6_k' },
};

function shape(nLayers: number, over: Partial<LlamaConfig> = {}): LlamaConfig {
  return {
    dim: 256, nLayers, nHeads: 4, nKvHeads: 4, hiddenDim: 512, vocabSize: 64, maxSeqLen: 32,
    normEps: 1e-5, ropeTheta: 10000, sharedClassifier: false, ...over,
  };
}

// The stored type of every matrix by Meta name.
function storedTypes(model: LlamaModel, mixture: MixtureName): Map<string, DType> {
  return new Map(mixturePlan(model, mixture).map((p) => [p.name, p.stored]));
}

function expectedTypes(row: Row, nLayers: number): Map<string, DType> {
  const attnV = row.attnV.split(' ') as DType[];
  const ffnDown = row.ffnDown.split(' ') as DType[];
  expect(attnV.length).toBe(nLayers);
  const out = new Map<string, DType>([['tok_embeddings.weight', row.tokenEmbedding]]);
  for (let l = 0; l < nLayers; l++) {
    out.set(`layers.${l}.attention.wq.weight`, row.rest);
    out.set(`layers.${l}.attention.wk.weight`, row.rest);
    out.set(`layers.${l}.attention.wv.weight`, attnV[l]);
    out.set(`layers.${l}.attention.wo.weight`, row.attnOutput);
    out.set(`layers.${l}.feed_forward.w1.weight`, row.rest);
    out.set(`layers.${l}.feed_forward.w2.weight`, ffnDown[l]);
    out.set(`layers.${l}.feed_forward.w3.weight`, row.rest);
  }
  out.set('output.weight', row.output);
  return out;
}

const four = randomModel(shape(4), 1);
const eight = randomModel(shape(8), 2);

describe('mixtures: the type of every matrix, as llama.cpp chooses it', () => {
  test('use_more_bits picks the first and last eighth and every third layer between', () => {
    expect([0, 1, 2, 3].filter((l) => useMoreBits(l, 4))).toEqual([2, 3]);
    expect([0, 1, 2, 3, 4, 5, 6, 7].filter((l) => useMoreBits(l, 8))).toEqual([0, 3, 6, 7]);
    expect(Array.from({ length: 32 }, (_, l) => l).filter((l) => useMoreBits(l, 32)))
      .toEqual([0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31]); // 16 of a 7B's 32
  });

  test.each(MIXTURE_NAMES)('%s, 4 layers', (mixture) => {
    expect(storedTypes(four, mixture)).toEqual(expectedTypes(FOUR_LAYERS[mixture], 4));
  });

  test.each(MIXTURE_NAMES)('%s, 8 layers', (mixture) => {
    expect(storedTypes(eight, mixture)).toEqual(expectedTypes(EIGHT_LAYERS[mixture], 8));
  });

  test('Q2_K gives attn_v q4_k when 4 or more query heads share a KV head', () => {
    const gqa = randomModel(shape(2, { nKvHeads: 1 }), 3);
    const types = storedTypes(gqa, 'q2_k');
    expect(types.get('layers.0.attention.wv.weight')).toBe('q4_k');
    expect(types.get('layers.1.attention.wv.weight')).toBe('q4_k');
    expect(storedTypes(randomModel(shape(2, { nKvHeads: 2 }), 3), 'q2_k').get('layers.0.attention.wv.weight')).toBe('q3_k');
  });

  test('a shared classifier (tied embedding) is quantized as llama.cpp quantizes output.weight', () => {
    const tied = randomModel(shape(2, { sharedClassifier: true }), 4);
    for (const mixture of MIXTURE_NAMES) expect(storedTypes(tied, mixture).get('tok_embeddings.weight')).toBe('q6_k');
    const stored = quantizeModelMixture(tied, 'q4_k_m');
    expect(stored.weights.output).toBe(stored.weights.tokenEmbedding);
    expect(stored.weights.output.dtype).toBe('q6_k');
  });

  test('rows not whole blocks of 256 fall back per tensor, and the notes name them (stories15M-like dim 288)', () => {
    const model = randomModel(shape(2, { dim: 288, nHeads: 6, nKvHeads: 6, hiddenDim: 768 }), 5);
    const notes: string[] = [];
    const stored = quantizeModelMixture(model, 'q4_k_m', notes);
    const w = stored.weights;
    // rows of dim (288): q4_k -> q5_0, q6_k -> q8_0; output with rows of 288 -> q8_0 as the mixture's own rule
    expect(w.tokenEmbedding.dtype).toBe('q5_0');
    expect(w.output.dtype).toBe('q8_0');
    expect(w.layers.map((l) => l.wq.dtype)).toEqual(['q5_0', 'q5_0']);
    expect(w.layers.map((l) => l.wv.dtype)).toEqual(['q5_0', 'q8_0']); // use_more_bits(1, 2)
    expect(w.layers.map((l) => l.w1.dtype)).toEqual(['q5_0', 'q5_0']);
    // ffn_down's rows are hiddenDim (768 = 3 x 256): the K-quants apply
    expect(w.layers.map((l) => l.w2.dtype)).toEqual(['q4_k', 'q6_k']);
    expect(notes).toEqual([
      'stored as q5_0 instead of q4_k (as llama.cpp falls back), rows of 288 values are not whole blocks of 256: tok_embeddings.weight, '
        + 'layers.0.attention.wq.weight, layers.0.attention.wk.weight, layers.0.attention.wv.weight, layers.0.attention.wo.weight, '
        + 'layers.0.feed_forward.w1.weight, layers.0.feed_forward.w3.weight, layers.1.attention.wq.weight, layers.1.attention.wk.weight, '
        + 'layers.1.attention.wo.weight, layers.1.feed_forward.w1.weight, layers.1.feed_forward.w3.weight',
      'stored as q8_0 instead of q6_k (as llama.cpp falls back), rows of 288 values are not whole blocks of 256: layers.1.attention.wv.weight',
    ]);
  });
});

describe('mixture files: llama.cpp general.file_type and the types as stored', () => {
  const small = randomModel(shape(2, { hiddenDim: 256 }), 6);
  test.each(MIXTURE_NAMES)('%s', (mixture) => {
    const bytes = modelToGGUF(small, { mixture });
    const read = loadModelFromBytes(bytes, `${mixture}.gguf`);
    expect(read.gguf?.metadata['general.file_type']).toBe(MIXTURE_FILE_TYPE[mixture]);
    const want = storedTypes(small, mixture);
    expect(read.model.weights.output.dtype).toBe(want.get('output.weight'));
    expect(read.model.weights.layers.map((l) => l.wv.dtype)).toEqual([0, 1].map((l) => want.get(`layers.${l}.attention.wv.weight`)));
    expect(read.model.weights.layers.map((l) => l.w2.dtype)).toEqual([0, 1].map((l) => want.get(`layers.${l}.feed_forward.w2.weight`)));
  });

  test('llama.cpp numbers: Q4_K_M 15, Q5_K_M 17, Q6_K 18, Q2_K 10, Q3_K_M 12', () => {
    expect(MIXTURE_FILE_TYPE).toEqual({ q2_k: 10, q3_k_s: 11, q3_k_m: 12, q3_k_l: 13, q4_k_s: 14, q4_k_m: 15, q5_k_s: 16, q5_k_m: 17, q6_k: 18 });
  });

  const dir = mkdtempSync(join(tmpdir(), 'quant-mixtures-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('quantize --type q4_k_m and convert --type q4_k_m write the same file', () => {
    const f32 = join(dir, 'f32.gguf');
    writeFileSync(f32, modelToGGUF(small, { dtype: 'f32' }));
    const result = quantizeFile(f32, join(dir, 'q.gguf'), { type: 'q4_k_m' });
    convertModel(f32, join(dir, 'c.gguf'), { type: 'q4_k_m' });
    const q = loadModel(join(dir, 'q.gguf'));
    const c = loadModel(join(dir, 'c.gguf'));
    expect(q.gguf?.metadata['general.file_type']).toBe(15);
    expect(c.gguf?.metadata['general.file_type']).toBe(15);
    expect(q.model.weights.layers[1].w2.data).toEqual(c.model.weights.layers[1].w2.data);
    expect(q.model.weights.layers[1].w2.dtype).toBe('q6_k');
    expect(result.quantized.length).toBe(2 + 2 * 7); // every matrix as the mixture asks it
    expect(result.fallback).toEqual([]);
  });
});
