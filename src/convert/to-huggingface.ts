// A model as a Hugging Face LLaMA folder that transformers' LlamaForCausalLM loads:
//
//   config.json             LlamaConfig fields under HF's names
//   model.safetensors       F32, F16 or BF16 tensors; wq/wk rows permuted into HF's
//                           rotate-half order (huggingface-permute.ts); no lm_head when tied
//   tokenizer.model         when the original SentencePiece bytes are at hand (we do not
//                           synthesize one); else tokenizer.json made from the vocabulary
//                           (src/tokenizer/tokenizer-json.ts); with a tokenizer_config.json naming specials
//
// Returned as file name → bytes; writeFolder puts them on disk.
import { mkdirSync } from 'node:fs';
import { writeFileAtomic } from '../io/atomic-file.js';
import { join } from 'node:path';
import { headDim } from '../../reference/config.js';
import { f32ToF16, toF32, type WeightTensor } from '../../reference/tensor.js';
import { metaLayerName, type LlamaModel } from '../../reference/weights.js';
import { permuteForHuggingFace } from '../formats/huggingface-permute.js';
import { HF_EMBEDDING, HF_LAYER_NAMES, HF_NORM, HF_OUTPUT, f32ToBf16, huggingFaceRopeScaling } from '../formats/huggingface.js';
import { writeSafetensors, type TensorToWrite } from '../formats/safetensors.js';
import type { Vocabulary } from '../tokenizer/vocabulary.js';
import { vocabularyToTokenizerJson } from '../tokenizer/tokenizer-json.js';
import type { ByteLevelVocabulary } from '../tokenizer/byte-level-vocabulary.js';
import { byteLevelTokenizerConfig, byteLevelTokenizerJson } from '../tokenizer/byte-level-writers.js';

export type HuggingFaceDType = 'f32' | 'f16' | 'bf16';
const TORCH_DTYPE: Record<HuggingFaceDType, string> = { f32: 'float32', f16: 'float16', bf16: 'bfloat16' };

export interface HuggingFaceExportOptions {
  dtype?: HuggingFaceDType; // default f32
  vocabulary?: Vocabulary; // for bos/eos ids and tokenizer_config.json
  tokenizerModel?: Uint8Array; // the SentencePiece tokenizer.model bytes, written unchanged
  byteLevel?: ByteLevelVocabulary; // instead of `vocabulary`: a byte-level BPE (LLaMA 3) vocabulary
}

export function modelToHuggingFace(model: LlamaModel, options: HuggingFaceExportOptions = {}): Map<string, Uint8Array> {
  const dtype = options.dtype ?? 'f32';
  const utf8 = new TextEncoder();
  const files = new Map<string, Uint8Array>();
  const json = (value: unknown): Uint8Array => utf8.encode(JSON.stringify(value, null, 2) + '\n');
  files.set('config.json', json(configJson(model, dtype, options.vocabulary ?? options.byteLevel)));
  files.set('model.safetensors', writeSafetensors(tensors(model, dtype), { format: 'pt' }));
  if (options.tokenizerModel) {
    files.set('tokenizer.model', options.tokenizerModel);
    files.set('tokenizer_config.json', utf8.encode(JSON.stringify(tokenizerConfig(options.vocabulary, 'LlamaTokenizer'), null, 2) + '\n'));
  } else if (options.byteLevel) {
    files.set('tokenizer.json', json(byteLevelTokenizerJson(options.byteLevel)));
    files.set('tokenizer_config.json', json(byteLevelTokenizerConfig(options.byteLevel)));
  } else if (options.vocabulary) {
    files.set('tokenizer.json', utf8.encode(vocabularyToTokenizerJson(options.vocabulary)));
    files.set('tokenizer_config.json', utf8.encode(JSON.stringify(tokenizerConfig(options.vocabulary, 'LlamaTokenizerFast'), null, 2) + '\n'));
  }
  return files;
}

export function writeFolder(dir: string, files: Map<string, Uint8Array>): string[] {
  mkdirSync(dir, { recursive: true });
  return [...files].map(([name, bytes]) => {
    const path = join(dir, name);
    writeFileAtomic(path, bytes);
    return path;
  });
}

function configJson(model: LlamaModel, dtype: HuggingFaceDType, vocab: { bosId: number; eosId: number } | undefined): Record<string, unknown> {
  const c = model.config;
  const json: Record<string, unknown> = {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: c.dim,
    intermediate_size: c.hiddenDim,
    num_hidden_layers: c.nLayers,
    num_attention_heads: c.nHeads,
    num_key_value_heads: c.nKvHeads,
    head_dim: headDim(c),
    vocab_size: c.vocabSize,
    max_position_embeddings: c.maxSeqLen,
    rms_norm_eps: c.normEps,
    rope_theta: c.ropeTheta,
    rope_scaling: huggingFaceRopeScaling(c),
    tie_word_embeddings: c.sharedClassifier,
    hidden_act: 'silu',
    attention_bias: false,
    mlp_bias: false,
    torch_dtype: TORCH_DTYPE[dtype],
  };
  if (vocab && vocab.bosId >= 0) json.bos_token_id = vocab.bosId;
  if (vocab && vocab.eosId >= 0) json.eos_token_id = vocab.eosId;
  return json;
}

function tokenizerConfig(vocab: Vocabulary | undefined, tokenizerClass: string): Record<string, unknown> {
  const piece = (id: number | undefined) => (vocab && id !== undefined && id >= 0 ? vocab.pieces[id] : null);
  return {
    tokenizer_class: tokenizerClass,
    bos_token: piece(vocab?.bosId) ?? '<s>',
    eos_token: piece(vocab?.eosId) ?? '</s>',
    unk_token: piece(vocab?.unkId) ?? '<unk>',
    pad_token: piece(vocab?.padId),
    add_bos_token: true,
    add_eos_token: false,
    legacy: true,
  };
}

// HF tensors in model.py order; the classifier only when not tied.
function tensors(model: LlamaModel, dtype: HuggingFaceDType): [string, TensorToWrite][] {
  const c = model.config;
  const w = model.weights;
  const out: [string, TensorToWrite][] = [[HF_EMBEDDING, matrix(w.tokenEmbedding, dtype)]];
  w.layers.forEach((l, i) => {
    const p = `model.layers.${i}.`;
    const n = HF_LAYER_NAMES;
    out.push(
      [p + n.attentionNorm, gain(l.attentionNorm, dtype)],
      [p + n.wq, matrix(permuteForHuggingFace(l.wq, c.nHeads, metaLayerName(i, 'wq')), dtype)],
      [p + n.wk, matrix(permuteForHuggingFace(l.wk, c.nKvHeads, metaLayerName(i, 'wk')), dtype)],
      [p + n.wv, matrix(l.wv, dtype)],
      [p + n.wo, matrix(l.wo, dtype)],
      [p + n.ffnNorm, gain(l.ffnNorm, dtype)],
      [p + n.w1, matrix(l.w1, dtype)],
      [p + n.w3, matrix(l.w3, dtype)],
      [p + n.w2, matrix(l.w2, dtype)],
    );
  });
  out.push([HF_NORM, gain(w.norm, dtype)]);
  if (!c.sharedClassifier) out.push([HF_OUTPUT, matrix(w.output, dtype)]);
  return out;
}

// [rows, cols] in the requested dtype; f16 → f16 keeps the bits, anything else goes via f32.
function matrix(t: WeightTensor, dtype: HuggingFaceDType): TensorToWrite {
  const shape = [t.rows, t.cols];
  if (dtype === 'f16' && t.dtype === 'f16') return { dtype: 'F16', shape, data: t.data as Uint16Array };
  return floats(toF32(t), shape, dtype);
}

function gain(g: Float32Array, dtype: HuggingFaceDType): TensorToWrite {
  return floats(g, [g.length], dtype);
}

function floats(values: Float32Array, shape: number[], dtype: HuggingFaceDType): TensorToWrite {
  if (dtype === 'f32') return { dtype: 'F32', shape, data: values };
  if (dtype === 'bf16') return { dtype: 'BF16', shape, data: f32ToBf16(values) };
  return { dtype: 'F16', shape, data: Uint16Array.from(values, f32ToF16) };
}
