// Hugging Face checkpoints: the q/k row permutation against the PyTorch formula, folders
// written and read back bit for bit (single file and shards, F32/F16/BF16), logits equal
// to the original model's, and clear errors for broken folders.
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { LlamaConfig } from '../reference/config.js';
import { randomModel } from '../reference/init.js';
import { createKVCache, forward } from '../reference/model.js';
import { f32Tensor, toF32, type WeightTensor } from '../reference/tensor.js';
import { tsKernels } from '../reference/ts-kernels.js';
import type { LlamaModel } from '../reference/weights.js';
import { modelToHuggingFace, writeFolder } from '../src/convert/to-huggingface.js';
import { bf16ToF32, f32ToBf16, parseHuggingFaceConfig } from '../src/formats/huggingface.js';
import { readHuggingFaceFolder } from '../src/formats/huggingface-folder.js';
import { permuteForHuggingFace, unpermuteFromHuggingFace } from '../src/formats/huggingface-permute.js';
import { parseSafetensors, writeSafetensors, type TensorToWrite } from '../src/formats/safetensors.js';
import { parameterBytes } from './formats-helpers.js';

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'hf-checkpoint-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

let folders = 0;
const freshDir = () => join(root, `m${folders++}`);

const CONFIG: LlamaConfig = {
  dim: 48, nLayers: 2, nHeads: 6, nKvHeads: 2, hiddenDim: 72, vocabSize: 40, maxSeqLen: 16,
  normEps: 1e-5, ropeTheta: 10000, sharedClassifier: false,
};
const model = randomModel(CONFIG, 3, { std: 0.3, gainJitter: 0.5 });
const TOKENS = [1, 7, 30, 2, 19, 5];

function logits(m: LlamaModel): Float32Array {
  return forward(m, tsKernels, createKVCache(m.config, TOKENS.length), TOKENS, 0, { allLogits: true });
}

function writeHf(m: LlamaModel, dtype: 'f32' | 'f16' | 'bf16' = 'f32'): string {
  const dir = freshDir();
  writeFolder(dir, modelToHuggingFace(m, { dtype }));
  return dir;
}

// PyTorch: w.view(n_heads, hd/2, 2, dim).transpose(1, 2).reshape(n_heads*hd, dim), spelled out.
function torchPermute(w: Float32Array, nHeads: number, rows: number, cols: number): Float32Array {
  const hd = rows / nHeads;
  const out = new Float32Array(rows * cols);
  for (let h = 0; h < nHeads; h++)
    for (let i = 0; i < hd / 2; i++)
      for (let j = 0; j < 2; j++)
        for (let c = 0; c < cols; c++) out[(h * hd + j * (hd / 2) + i) * cols + c] = w[(h * hd + 2 * i + j) * cols + c];
  return out;
}

describe('the q/k row permutation', () => {
  test('matches the PyTorch view/transpose/reshape of convert_llama_weights_to_hf.py', () => {
    const rows = 24, cols = 5;
    const w = f32Tensor(Float32Array.from({ length: rows * cols }, (_, i) => i), rows, cols);
    for (const heads of [1, 2, 3, 6]) {
      expect(Array.from(permuteForHuggingFace(w, heads).data)).toEqual(Array.from(torchPermute(w.data as Float32Array, heads, rows, cols)));
    }
    // One head of 4 rows: Meta rows (0,1),(2,3) are pairs; HF puts the first of each pair first.
    const small = f32Tensor(Float32Array.of(0, 1, 2, 3), 4, 1);
    expect(Array.from(permuteForHuggingFace(small, 1).data)).toEqual([0, 2, 1, 3]);
    expect(Array.from(unpermuteFromHuggingFace(f32Tensor(Float32Array.of(0, 2, 1, 3), 4, 1), 1).data)).toEqual([0, 1, 2, 3]);
  });

  test('unpermute inverts permute for any head count, head size and storage type', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), fc.boolean(),
      (heads, halfHd, cols, f16) => {
        const rows = heads * halfHd * 2;
        const n = rows * cols;
        const w: WeightTensor = f16
          ? { dtype: 'f16', rows, cols, data: Uint16Array.from({ length: n }, (_, i) => i * 7) }
          : f32Tensor(Float32Array.from({ length: n }, (_, i) => i * 0.5), rows, cols);
        const back = unpermuteFromHuggingFace(permuteForHuggingFace(w, heads), heads);
        expect(back.dtype).toBe(w.dtype);
        expect(Array.from(back.data)).toEqual(Array.from(w.data));
        if (halfHd > 1) expect(Array.from(permuteForHuggingFace(w, heads).data)).not.toEqual(Array.from(w.data));
      },
    ), { numRuns: 60 });
  });

  test('refuses rows that do not split into heads of even size', () => {
    const w = f32Tensor(new Float32Array(6 * 2), 6, 2);
    expect(() => permuteForHuggingFace(w, 4, 'layers.0.wq')).toThrow('layers.0.wq: 6 rows do not split into 4 heads');
    expect(() => unpermuteFromHuggingFace(w, 2, 'x')).toThrow('head dimension 3 is odd');
  });
});

describe('write a HF folder, read it back', () => {
  test('F32: every parameter bit-identical and the logits identical', () => {
    const dir = writeHf(model);
    const back = readHuggingFaceFolder(dir);
    expect(back.model.config).toEqual(CONFIG);
    expect(parameterBytes(back.model)).toEqual(parameterBytes(model));
    expect(logits(back.model)).toEqual(logits(model));
    expect(back.tokenizerModel).toBeUndefined();
    // The file holds HF's order, not ours: q_proj is the permuted wq.
    const st = parseSafetensors(new Uint8Array(readFileSync(join(dir, 'model.safetensors'))), 'model.safetensors');
    const q = st.tensors.get('model.layers.1.self_attn.q_proj.weight')!;
    expect(q.dtype).toBe('F32');
    expect(q.shape).toEqual([48, 48]);
    expect(new Float32Array(q.bytes.slice().buffer)).toEqual(permuteForHuggingFace(model.weights.layers[1].wq, 6).data);
    expect(st.tensors.has('lm_head.weight')).toBe(true);
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(cfg).toMatchObject({ hidden_size: 48, num_key_value_heads: 2, intermediate_size: 72, tie_word_embeddings: false, torch_dtype: 'float32' });
  });

  test('a tied classifier is written without lm_head and read back as one shared tensor', () => {
    const tied = randomModel({ ...CONFIG, sharedClassifier: true }, 4, { std: 0.3 });
    const dir = writeHf(tied);
    const st = parseSafetensors(new Uint8Array(readFileSync(join(dir, 'model.safetensors'))), 'x');
    expect(st.tensors.has('lm_head.weight')).toBe(false);
    const back = readHuggingFaceFolder(dir).model;
    expect(back.weights.output).toBe(back.weights.tokenEmbedding);
    expect(logits(back)).toEqual(logits(tied));
  });

  test('F16 stays f16; BF16 is widened to f32 exactly', () => {
    const f16 = readHuggingFaceFolder(writeHf(model, 'f16')).model;
    expect(f16.weights.layers[0].wq.dtype).toBe('f16');
    const bf16 = readHuggingFaceFolder(writeHf(model, 'bf16')).model;
    expect(bf16.weights.layers[0].wk.dtype).toBe('f32');
    const expected = bf16ToF32(f32ToBf16(model.weights.layers[0].wk.data as Float32Array));
    expect(bf16.weights.layers[0].wk.data).toEqual(expected);
    // Both are close to the F32 original (half precision: ~3 and ~2 significant digits).
    const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
    expect(maxDiff(toF32(f16.weights.layers[0].wq), toF32(model.weights.layers[0].wq))).toBeLessThan(2e-3);
    expect(maxDiff(toF32(bf16.weights.layers[0].wq), toF32(model.weights.layers[0].wq))).toBeLessThan(8e-3);
  });

  test('bf16 rounding is to nearest even, NaN and infinities kept', () => {
    const x = new Float32Array(new Uint32Array([0x3f808000, 0x3f818000, 0x3f808001, 0x7f800000, 0xff800000, 0x7fc00001]).buffer);
    expect(Array.from(f32ToBf16(x))).toEqual([0x3f80, 0x3f82, 0x3f81, 0x7f80, 0xff80, 0x7fc0]);
  });

  test('sharded: model-0000N-of-00002.safetensors with an index read as one model', () => {
    const dir = writeHf(model);
    const single = parseSafetensors(new Uint8Array(readFileSync(join(dir, 'model.safetensors'))), 'x');
    unlinkSync(join(dir, 'model.safetensors'));
    const names = [...single.tensors.keys()];
    const shards: [string, string[]][] = [['model-00001-of-00002.safetensors', names.slice(0, 9)], ['model-00002-of-00002.safetensors', names.slice(9)]];
    const weightMap: Record<string, string> = {};
    for (const [file, list] of shards) {
      const entries: [string, TensorToWrite][] = list.map((n) => {
        const t = single.tensors.get(n)!;
        return [n, { dtype: t.dtype, shape: t.shape, data: t.bytes.slice() }];
      });
      writeFileSync(join(dir, file), writeSafetensors(entries, { format: 'pt' }));
      for (const n of list) weightMap[n] = file;
    }
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }));
    const back = readHuggingFaceFolder(dir);
    expect(back.files.map((f) => f.slice(dir.length + 1))).toEqual(shards.map(([f]) => f));
    expect(parameterBytes(back.model)).toEqual(parameterBytes(model));

    unlinkSync(join(dir, 'model-00002-of-00002.safetensors'));
    expect(() => readHuggingFaceFolder(dir)).toThrow(/model\.safetensors\.index\.json: shard model-00002-of-00002\.safetensors \(named in weight_map\) is missing/);
  });

  test('an import that skips the un-permutation changes the logits', () => {
    const dir = writeHf(model);
    const back = readHuggingFaceFolder(dir).model;
    const wrong: LlamaModel = {
      config: back.config,
      weights: { ...back.weights, layers: back.weights.layers.map((l) => ({ ...l, wq: permuteForHuggingFace(l.wq, 6), wk: permuteForHuggingFace(l.wk, 2) })) },
    };
    const a = logits(model), b = logits(wrong);
    const maxDiff = a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
    expect(maxDiff).toBeGreaterThan(0.1);
    // The first position has no other position to attend to, so only later ones differ.
    const V = CONFIG.vocabSize;
    expect(b.subarray(0, V)).toEqual(a.subarray(0, V));
  });
});

describe('clear errors for broken folders', () => {
  // A fresh F32 folder, with config.json edited and/or one tensor replaced.
  function broken(editConfig: (c: Record<string, unknown>) => void, tensor?: [string, TensorToWrite | null]): string {
    const dir = writeHf(model);
    const cfgPath = join(dir, 'config.json');
    const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
    editConfig(cfg);
    writeFileSync(cfgPath, JSON.stringify(cfg));
    if (tensor) {
      const path = join(dir, 'model.safetensors');
      const st = parseSafetensors(new Uint8Array(readFileSync(path)), path);
      const entries: [string, TensorToWrite][] = [];
      for (const [n, t] of st.tensors) {
        if (n !== tensor[0]) entries.push([n, { dtype: t.dtype, shape: t.shape, data: t.bytes.slice() }]);
        else if (tensor[1]) entries.push([n, tensor[1]]);
      }
      writeFileSync(path, writeSafetensors(entries));
    }
    return dir;
  }

  test('config.json disagreeing with a tensor shape names the tensor, the file and the fields', () => {
    const dir = broken((c) => { c.num_key_value_heads = 3; });
    expect(() => readHuggingFaceFolder(dir)).toThrow(
      /model\.safetensors: tensor model\.layers\.0\.self_attn\.k_proj\.weight has shape \[16, 48\], but .*config\.json \(num_key_value_heads 3, head dim 8, hidden_size 48\) implies \[24, 48\]/,
    );
    const vocab = broken((c) => { c.vocab_size = 41; });
    expect(() => readHuggingFaceFolder(vocab)).toThrow(/model\.embed_tokens\.weight has shape \[40, 48\], but .*config\.json \(vocab_size 41/);
  });

  test('a missing tensor and an unreadable dtype name the tensor', () => {
    const missing = broken(() => {}, ['model.layers.1.mlp.up_proj.weight', null]);
    expect(() => readHuggingFaceFolder(missing)).toThrow(/config\.json: the checkpoint has no tensor model\.layers\.1\.mlp\.up_proj\.weight/);
    const untied = broken((c) => { c.tie_word_embeddings = false; }, ['lm_head.weight', null]);
    expect(() => readHuggingFaceFolder(untied)).toThrow(/no tensor lm_head\.weight/);
    const ints = broken(() => {}, ['model.norm.weight', { dtype: 'I32', shape: [48], data: new Int32Array(48) }]);
    expect(() => readHuggingFaceFolder(ints)).toThrow(/model\.safetensors: tensor model\.norm\.weight has dtype I32; only F32, F16 and BF16/);
  });

  test('config.json fields that are missing, wrong or describe another model', () => {
    const cases: [(c: Record<string, unknown>) => void, RegExp][] = [
      [(c) => { delete c.hidden_size; }, /config\.json: missing field hidden_size/],
      [(c) => { c.num_attention_heads = 'six'; }, /num_attention_heads must be a positive integer, got "six"/],
      [(c) => { c.model_type = 'mistral'; }, /model_type is "mistral", only "llama"/],
      [(c) => { c.rope_scaling = { rope_type: 'yarn', factor: 2 }; }, /config\.json: rope_scaling\.rope_type "yarn" is not supported \(only "llama3" and "linear"\)/],
      [(c) => { c.rope_scaling = { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4 }; }, /rope_scaling\.original_max_position_embeddings must be a positive number, got undefined/],
      [(c) => { c.head_dim = 16; }, /head_dim 16 differs from hidden_size \/ num_attention_heads = 8/],
      [(c) => { c.num_attention_heads = 5; }, /dim 48 is not divisible by nHeads 5/],
    ];
    for (const [edit, message] of cases) expect(() => readHuggingFaceFolder(broken(edit))).toThrow(message);
    expect(() => parseHuggingFaceConfig('{"hidden_size": ', 'x/config.json')).toThrow(/x\/config\.json: not valid JSON/);
  });

  test('a folder without weights, or with a truncated safetensors file', () => {
    const dir = writeHf(model);
    const path = join(dir, 'model.safetensors');
    const bytes = readFileSync(path);
    writeFileSync(path, bytes.subarray(0, bytes.length - 100));
    expect(() => readHuggingFaceFolder(dir)).toThrow(/model\.safetensors: tensor "lm_head\.weight": data_offsets .* run past the end/);
    unlinkSync(path);
    expect(() => readHuggingFaceFolder(dir)).toThrow(/no model\.safetensors and no model\.safetensors\.index\.json/);
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { 'model.norm.weight': '../elsewhere.safetensors' } }));
    expect(() => readHuggingFaceFolder(dir)).toThrow(/is not a file name in this folder/);
  });
});
