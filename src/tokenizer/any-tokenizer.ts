// Either kind of tokenizer, from whichever file holds it: SentencePiece BPE (tokenizer.ts;
// LLaMA 1 and 2, .model, tokenizer.bin, GGUF "llama") or byte-level BPE (byte-level-bpe.ts;
// LLaMA 3, GGUF "gpt2"). A GGUF says which by tokenizer.ggml.model.
import { GGUF_MAGIC, parseGGUF, type GGUFValue } from '../formats/gguf.js';
import { ByteLevelBpeTokenizer } from './byte-level-bpe.js';
import { byteLevelVocabularyFromGGUF } from './gguf-byte-level.js';
import { vocabularyFromGGUF } from './gguf-vocabulary.js';
import { Tokenizer, tokenizerFromBytes } from './tokenizer.js';

export type AnyTokenizer = Tokenizer | ByteLevelBpeTokenizer;

// The tokenizer a GGUF's metadata describes.
export function tokenizerFromGGUF(metadata: Record<string, GGUFValue>, fileName: string): AnyTokenizer {
  const model = metadata['tokenizer.ggml.model'];
  if (model === 'gpt2') return new ByteLevelBpeTokenizer(byteLevelVocabularyFromGGUF(metadata, fileName), fileName);
  if (model !== undefined && model !== 'llama') {
    throw new Error(`${fileName}: tokenizer.ggml.model is ${JSON.stringify(model)}; llama-ts reads "llama" (SentencePiece BPE) and "gpt2" (byte-level BPE)`);
  }
  return new Tokenizer(vocabularyFromGGUF(metadata, fileName));
}

// A tokenizer from a file's bytes: a GGUF of either kind, else what tokenizerFromBytes reads.
export function anyTokenizerFromBytes(bytes: Uint8Array, fileName: string): AnyTokenizer {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length >= 4 && view.getUint32(0, true) === GGUF_MAGIC) return tokenizerFromGGUF(parseGGUF(bytes, fileName).metadata, fileName);
  return tokenizerFromBytes(bytes, fileName);
}
