// The one table of parameter names (reference/weights.ts) and the names each format derives
// from it: Meta's must be what golden/ (written by PyTorch) calls the tensors, and every
// walk over the parameters must agree with the model's own tensors.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { DEFAULT_NORM_EPS, DEFAULT_ROPE_THETA, type LlamaConfig } from '../reference/config.js';
import { createGradients, namedParameters } from '../reference/gradients.js';
import { randomModel } from '../reference/init.js';
import type { WeightTensor } from '../reference/tensor.js';
import { atSlot, parameterCount, parameterNames, parameterShape, parameterSlots } from '../reference/weights.js';
import { caseConfig, readManifest } from '../src/conform/golden.js';
import { namedMatrices } from '../src/convert/storage.js';
import { ggufFromModel, ggufName } from '../src/formats/gguf-model.js';
import { ggufTensorBytes, parseGGUF, writeGGUF } from '../src/formats/gguf.js';
import { huggingFaceName } from '../src/formats/huggingface.js';
import { loadModelFromBytes } from '../src/formats/load-file.js';
import { parseSafetensors } from '../src/formats/safetensors.js';

const config = (over: Partial<LlamaConfig> = {}): LlamaConfig => ({
  dim: 16, nLayers: 1, nHeads: 4, nKvHeads: 2, hiddenDim: 24, vocabSize: 20, maxSeqLen: 8,
  normEps: DEFAULT_NORM_EPS, ropeTheta: DEFAULT_ROPE_THETA, sharedClassifier: false, ...over,
});

describe("Meta's names", () => {
  test('are the names golden/ gives the weights and the gradients, in the same order', () => {
    const manifest = readManifest();
    let checked = 0;
    for (const c of manifest.cases) {
      if (!('file' in c.weights)) continue;
      const names = parameterNames(caseConfig(c));
      const file = parseSafetensors(new Uint8Array(readFileSync(join(manifest.root, c.weights.file))), c.weights.file);
      expect([...file.tensors.keys()].sort()).toEqual([...names].sort());
      const grads = c.tensors.filter((t) => t.startsWith('grad.'));
      if (grads.length) expect(grads).toEqual(names.map((n) => `grad.${n}`));
      checked++;
    }
    expect(checked).toBeGreaterThan(2);
  });

  test('one layer, spelled out', () => {
    expect(parameterNames(config())).toEqual([
      'tok_embeddings.weight',
      'layers.0.attention_norm.weight', 'layers.0.attention.wq.weight', 'layers.0.attention.wk.weight',
      'layers.0.attention.wv.weight', 'layers.0.attention.wo.weight', 'layers.0.ffn_norm.weight',
      'layers.0.feed_forward.w1.weight', 'layers.0.feed_forward.w2.weight', 'layers.0.feed_forward.w3.weight',
      'norm.weight', 'output.weight',
    ]);
    expect(parameterNames(config({ sharedClassifier: true })).at(-1)).toBe('norm.weight');
  });

  test.each([false, true])('shapes, count and slots agree with the tensors of a model (shared classifier: %s)', (shared) => {
    const c = config({ nLayers: 3, sharedClassifier: shared });
    const m = randomModel(c, 3);
    let total = 0;
    for (const slot of parameterSlots(c)) {
      const t = atSlot<WeightTensor | Float32Array>(m.weights, slot);
      const shape = t instanceof Float32Array ? [t.length] : [t.rows, t.cols];
      expect(shape, slot.name).toEqual(parameterShape(c, slot.field));
      total += shape.reduce((a, b) => a * b, 1);
    }
    expect(parameterCount(c)).toBe(total);
    const params = namedParameters(m, createGradients(c));
    expect(params.map((p) => p.name)).toEqual(parameterNames(c));
    expect(params.reduce((n, p) => n + p.grad.length, 0)).toBe(total);
    expect(params.filter((p) => !p.decay).map((p) => p.name)).toEqual([
      'layers.0.attention_norm.weight', 'layers.0.ffn_norm.weight', 'layers.1.attention_norm.weight',
      'layers.1.ffn_norm.weight', 'layers.2.attention_norm.weight', 'layers.2.ffn_norm.weight', 'norm.weight',
    ]);
  });

  test('conversion reports matrices by their Meta names, the norms left out', () => {
    expect(namedMatrices(randomModel(config(), 1)).map(([name]) => name)).toEqual([
      'tok_embeddings.weight', 'layers.0.attention.wq.weight', 'layers.0.attention.wk.weight', 'layers.0.attention.wv.weight',
      'layers.0.attention.wo.weight', 'layers.0.feed_forward.w1.weight', 'layers.0.feed_forward.w2.weight',
      'layers.0.feed_forward.w3.weight', 'output.weight',
    ]);
  });
});

describe('format names keyed by the same fields', () => {
  test('GGUF: llama.cpp names, written in Meta order', () => {
    const c = config();
    expect(parameterSlots(c).map(ggufName)).toEqual([
      'token_embd.weight', 'blk.0.attn_norm.weight', 'blk.0.attn_q.weight', 'blk.0.attn_k.weight', 'blk.0.attn_v.weight',
      'blk.0.attn_output.weight', 'blk.0.ffn_norm.weight', 'blk.0.ffn_gate.weight', 'blk.0.ffn_down.weight', 'blk.0.ffn_up.weight',
      'output_norm.weight', 'output.weight',
    ]);
    const file = parseGGUF(ggufFromModel(randomModel(c, 2)), 'x.gguf');
    expect(file.tensors.map((t) => t.name)).toEqual(parameterSlots(c).map(ggufName));
  });

  test('Hugging Face: transformers names', () => {
    expect(parameterSlots(config()).map(huggingFaceName)).toEqual([
      'model.embed_tokens.weight', 'model.layers.0.input_layernorm.weight', 'model.layers.0.self_attn.q_proj.weight',
      'model.layers.0.self_attn.k_proj.weight', 'model.layers.0.self_attn.v_proj.weight', 'model.layers.0.self_attn.o_proj.weight',
      'model.layers.0.post_attention_layernorm.weight', 'model.layers.0.mlp.gate_proj.weight', 'model.layers.0.mlp.down_proj.weight',
      'model.layers.0.mlp.up_proj.weight', 'model.norm.weight', 'lm_head.weight',
    ]);
  });

  test('a GGUF that claims a billion layers fails fast at the first missing tensor', () => {
    const small = parseGGUF(ggufFromModel(randomModel(config(), 4)), 'small.gguf');
    const metadata = Object.entries(small.metadata).map(([k, v]) => [k, k === 'llama.block_count' ? 1e9 : v, small.types[k]] as const);
    const tensors = small.tensors.map((t) => ({ name: t.name, dims: t.dims, type: t.type, data: ggufTensorBytes(small, t) }));
    const bytes = writeGGUF({ metadata: metadata.map(([k, v, t]) => [k, v, t]), tensors });
    const t0 = performance.now();
    expect(() => loadModelFromBytes(bytes, 'huge.gguf')).toThrow('huge.gguf: GGUF has no tensor blk.1.attn_norm.weight');
    expect(performance.now() - t0).toBeLessThan(250);
  });
});
