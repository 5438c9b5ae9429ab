// Either kind of tokenizer, from whichever file holds it: SentencePiece BPE (tokenizer.ts;
// LLaMA 1 and 2, .model, tokenizer.bin, GGUF "llama", Metaspace tokenizer.json) or
// byte-level BPE (byte-level-bpe.ts; LLaMA 3, GGUF "gpt2", ByteLevel tokenizer.json).
// Which one, model-vocabulary.ts decides.
import type { GGUFValue } from '../formats/gguf.js';
import { ByteLevelBpeTokenizer } from './byte-level-bpe.js';
import { modelVocabulary, vocabularyFromFile, vocabularyFromGGUFMetadata, type AnyVocabulary, type ModelFiles, type NamedBytes } from './model-vocabulary.js';
import { Tokenizer } from './tokenizer.js';

export type AnyTokenizer = Tokenizer | ByteLevelBpeTokenizer;

// The tokenizer for a vocabulary of either kind; `name` is blamed in its errors.
export function tokenizerOf(read: AnyVocabulary, name: string): AnyTokenizer {
  return read.kind === 'byte-level' ? new ByteLevelBpeTokenizer(read.vocabulary, name) : new Tokenizer(read.vocabulary, name);
}

// The tokenizer a GGUF's metadata describes.
export function tokenizerFromGGUF(metadata: Record<string, GGUFValue>, fileName: string): AnyTokenizer {
  return tokenizerOf(vocabularyFromGGUFMetadata(metadata, fileName), fileName);
}

// A tokenizer from any tokenizer file's bytes.
export function anyTokenizerFromBytes(bytes: Uint8Array, fileName: string): AnyTokenizer {
  return tokenizerOf(vocabularyFromFile({ name: fileName, bytes }), fileName);
}

// The tokenizer of a model: the vocabulary that comes with it (model-vocabulary.ts), of the
// model's size. `hint` says what to give when the model holds none.
export function modelTokenizer(model: ModelFiles, tokenizer: NamedBytes | undefined, vocabSize: number, hint: string): AnyTokenizer {
  const found = modelVocabulary(model, tokenizer, vocabSize);
  if (!found) throw new Error(`${model.name}: this model file holds no vocabulary; ${hint}`);
  return tokenizerOf(found, found.from);
}
