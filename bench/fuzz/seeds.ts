// The valid files the mutations start from. Most are written here by llama-ts's own writers
// (small, so a case costs microseconds); a few are the real files in ../shared/data (never
// copied into the repository), so that mutations also start from what other tools wrote.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DEFAULT_NORM_EPS, DEFAULT_ROPE_THETA, type LlamaConfig } from '../../reference/config.js';
import { modelToHuggingFace } from '../../src/convert/to-huggingface.js';
import { quantizeModel } from '../../src/convert/storage.js';
import { ggufFromModel } from '../../src/formats/gguf-model.js';
import { writeGGUF } from '../../src/formats/gguf.js';
import { writeLlama2c } from '../../src/formats/llama2c.js';
import { BYTE_TO_CHAR } from '../../src/tokenizer/byte-to-unicode.js';
import type { ByteLevelVocabulary } from '../../src/tokenizer/byte-level-vocabulary.js';
import { byteLevelGGUFMetadata, byteLevelTokenizerJson } from '../../src/tokenizer/byte-level-writers.js';
import { ggufTokenizerMetadata } from '../../src/tokenizer/gguf-vocabulary.js';
import { vocabularyFromLlama2c } from '../../src/tokenizer/llama2c-tokenizer.js';
import { vocabularyToTokenizerJson } from '../../src/tokenizer/tokenizer-json.js';
import { PieceType, type Vocabulary } from '../../src/tokenizer/vocabulary.js';
// The formats tests' uniform random model: the fuzzer's seeds are the same kind of file.
import { randomModel } from '../../tests/formats-helpers.js';
import { ggufFieldMap, llama2cFieldMap, llama2cTokenizerFieldMap, protobufFieldMap } from './fieldmaps.js';
import type { BinarySeed } from './mutate.js';

export const dataPath = (rel: string): string => fileURLToPath(new URL(`../../../shared/data/${rel}`, import.meta.url));
export const repoPath = (rel: string): string => fileURLToPath(new URL(`../../${rel}`, import.meta.url));

const once = <T>(f: () => T): (() => T) => {
  let v: T | undefined;
  return () => (v ??= f());
};

export function tinyConfig(over: Partial<LlamaConfig> = {}): LlamaConfig {
  return {
    dim: 8, nLayers: 2, nHeads: 2, nKvHeads: 1, hiddenDim: 12, vocabSize: 40, maxSeqLen: 16,
    normEps: DEFAULT_NORM_EPS, ropeTheta: DEFAULT_ROPE_THETA, sharedClassifier: true, ...over,
  };
}

export const tok512Bin = once(() => new Uint8Array(readFileSync(dataPath('stories260K/tok512.bin'))));
export const tok512Model = once(() => new Uint8Array(readFileSync(dataPath('stories260K/tok512.model'))));
export const stories260KBin = once(() => new Uint8Array(readFileSync(dataPath('stories260K/stories260K.bin'))));
export const stories260KGGUF = once(() => new Uint8Array(readFileSync(dataPath('stories260K/stories260K.gguf'))));

// The first 40 pieces of tok512 (<unk>, <s>, </s>, bytes...): a vocabulary small enough to
// ride inside every tiny GGUF seed.
export const smallVocab = once((): Vocabulary => {
  const v = vocabularyFromLlama2c(tok512Bin(), 'tok512.bin');
  const n = 40;
  return { ...v, pieces: v.pieces.slice(0, n), scores: v.scores.slice(0, n), types: v.types.slice(0, n) };
});
export const tok512Vocab = once(() => vocabularyFromLlama2c(tok512Bin(), 'tok512.bin'));

export const byteLevelVocab = once((): ByteLevelVocabulary => {
  const tokens = ['<|eot_id|>', '<|end_of_text|>', '<|begin_of_text|>', ...BYTE_TO_CHAR, '\u0120t', 'he', '\u0120the', 'aa'];
  return {
    tokens,
    types: Uint8Array.from(tokens, (_, id) => (id < 3 ? PieceType.CONTROL : PieceType.NORMAL)),
    merges: ['\u0120 t', 'h e', '\u0120t he', 'a a'],
    pre: 'llama-bpe', bosId: 2, eosId: 1, eotId: 0, eomId: -1, padId: -1, unkId: -1, addBos: true, addEos: false,
  };
});

const CHAT_TEMPLATE = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

const binary = (name: string, bytes: Uint8Array, map: (b: Uint8Array) => { fields: BinarySeed['fields']; strings: BinarySeed['strings'] }): BinarySeed => ({ name, bytes, ...map(bytes) });

// GGUF models: F32 with its vocabulary and a chat template, one quantized (Q8_0 and Q4_0
// blocks, F16), one with a non-default alignment, and the real stories260K.
export const ggufSeeds = once((): BinarySeed[] => {
  const vocab = ggufTokenizerMetadata(smallVocab());
  const f32 = randomModel(tinyConfig(), 1);
  const q = randomModel(tinyConfig({ dim: 32, hiddenDim: 32, nHeads: 4, nKvHeads: 2, sharedClassifier: false }), 2);
  return [
    binary('tiny-f32.gguf', ggufFromModel(f32, [...vocab, ['tokenizer.chat_template', CHAT_TEMPLATE, 'string']]), ggufFieldMap),
    binary('tiny-q8.gguf', ggufFromModel(quantizeModel(q, 'q8_0'), vocab), ggufFieldMap),
    binary('tiny-q4.gguf', ggufFromModel(quantizeModel(q, 'q4_0'), [['general.alignment', 64, 'u32'], ...vocab]), ggufFieldMap),
    binary('tiny-f16.gguf', ggufFromModel(quantizeModel(f32, 'f16')), ggufFieldMap),
  ];
});
export const realGGUFSeed = once(() => binary('stories260K.gguf', stories260KGGUF(), ggufFieldMap));

export const llama2cSeeds = once((): BinarySeed[] => {
  const separate = randomModel(tinyConfig({ sharedClassifier: false }), 3);
  return [
    binary('tiny-v0.bin', writeLlama2c(randomModel(tinyConfig(), 4), 0), llama2cFieldMap),
    binary('tiny-v0-separate.bin', writeLlama2c(separate, 0), llama2cFieldMap),
    binary('tiny-v1.bin', writeLlama2c(separate, 1), llama2cFieldMap),
  ];
});
export const realLlama2cSeed = once(() => binary('stories260K.bin', stories260KBin(), llama2cFieldMap));

// Tokenizer files: SentencePiece .model (real), tokenizer.bin (real), vocabulary-only GGUFs
// of both kinds (ours).
export const spmSeed = once(() => binary('tok512.model', tok512Model(), protobufFieldMap));
export const llama2cTokenizerSeed = once(() => binary('tok512.bin', tok512Bin(), llama2cTokenizerFieldMap));
export const ggufVocabSeeds = once((): BinarySeed[] => [
  binary('vocab-spm.gguf', writeGGUF({ metadata: ggufTokenizerMetadata(tok512Vocab()), tensors: [] }), ggufFieldMap),
  binary('vocab-bpe.gguf', writeGGUF({ metadata: byteLevelGGUFMetadata(byteLevelVocab()), tensors: [] }), ggufFieldMap),
]);

// tokenizer.json trees (ours): the SentencePiece one for tok512, and a byte-level one.
export const tokenizerJsonSeeds = once((): unknown[] => [
  JSON.parse(vocabularyToTokenizerJson(smallVocab())),
  byteLevelTokenizerJson(byteLevelVocab()),
]);

// A Hugging Face folder (ours): config.json, model.safetensors, as written by convert.
export const huggingFaceSeed = once(() => {
  const files = modelToHuggingFace(randomModel(tinyConfig({ sharedClassifier: false }), 5), { dtype: 'f16' });
  const text = new TextDecoder();
  return { config: JSON.parse(text.decode(files.get('config.json'))) as unknown, weights: files.get('model.safetensors') as Uint8Array };
});

// A safetensors file split into its JSON header and data (edited apart, joined per case).
export function splitSafetensors(bytes: Uint8Array): { header: unknown; data: Uint8Array } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { header: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))), data: bytes.subarray(8 + n) };
}

export function joinSafetensors(headerText: string, data: Uint8Array): Uint8Array {
  const h = new TextEncoder().encode(headerText);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

// Evaluation task lines, one per shape (the fields src/eval/tasks.ts reads).
export const TASK_ITEMS: readonly unknown[] = [
  { ctx_a: 'A man is sitting on a roof.', ctx_b: 'he', activity_label: 'Roof shingle removal', endings: ['is using wrap.', 'is ripping level tiles off.', 'holds a ladder.', 'starts pulling up roofing.'], label: 3 },
  { goal: 'How do I ready a guinea pig cage?', sol1: 'Put a layer of bedding.', sol2: 'Put a layer of paper.', label: 0 },
  { question: 'Which is a mammal?', choices: { text: ['cat', 'trout'], label: ['A', 'B'] }, answerKey: 'A' },
  { question_stem: 'The sun is', choices: { text: ['hot', 'cold'], label: ['A', 'B'] }, answerKey: 'A' },
  { passage: 'Water boils at 100 C at sea level.', question: 'does water boil at 100 c', answer: true },
  { sentence: 'Sarah was a much better surgeon than Maria so _ always got the harder cases.', option1: 'Sarah', option2: 'Maria', answer: '1' },
  { context: 'The sky is', choices: ['blue', 'green'], answer: 0 },
];

// Chat templates in Jinja (the shapes real models ship), for the template target.
export const TEMPLATES: readonly string[] = [
  CHAT_TEMPLATE,
  "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}",
  "{{- bos_token }}{%- for message in messages %}{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}",
];
