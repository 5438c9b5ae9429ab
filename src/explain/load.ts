// A model to explain, from the bytes a page fetched (the explorer's worker): the weights,
// the tokenizer that comes with them, and every token's text for the views' labels.
import type { LlamaModel } from '../../reference/weights.js';
import { loadModelFromBytes } from '../formats/load-bytes.js';
import { modelTokenizer, type AnyTokenizer } from '../tokenizer/any-tokenizer.js';
import { tokenText } from './terminal.js';

export interface Explainer {
  model: LlamaModel;
  tokenizer: AnyTokenizer;
  pieces: string[]; // [V] each token's own text (leading space kept)
  endIds: number[]; // tokens that end generation (EOS, end-of-turn)
}

export function loadExplainerFromBytes(model: Uint8Array, modelName: string, tokenizer?: Uint8Array, tokenizerName?: string): Explainer {
  const loaded = loadModelFromBytes(model, modelName);
  const given = tokenizer ? { name: tokenizerName ?? 'tokenizer', bytes: tokenizer } : undefined;
  const tok = modelTokenizer({ name: modelName, gguf: loaded.gguf?.metadata }, given, loaded.model.config.vocabSize, 'give a tokenizer URL');
  const V = loaded.model.config.vocabSize;
  const pieces = Array.from({ length: V }, (_, id) => tokenText(tok, id));
  const endIds = Array.from({ length: V }, (_, id) => id).filter((id) => tok.isEndOfGeneration(id));
  return { model: loaded.model, tokenizer: tok, pieces, endIds };
}
