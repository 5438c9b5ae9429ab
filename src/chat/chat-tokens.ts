// The rendered conversation → token ids, with the special tokens the template wrote
// (<s>, </s>, <|eot_id|>...) as their ids, never as their characters. As llama.cpp's
// tokenize with parse_special and add_special (llama-vocab.cpp):
//
//   - the text is cut at every special token's text, longest first (control, user-defined
//     and unknown tokens); each cut-out token is its id;
//   - each piece of plain text between them is encoded alone, so a SentencePiece piece
//     gets its dummy-prefix space, as llama.cpp gives one after a special token;
//   - BOS starts the ids where the vocabulary adds one, unless the template wrote it
//     already (LLaMA 2 and 3 render bos_token; it becomes that one BOS, never two).
import { ByteLevelBpeTokenizer } from '../tokenizer/byte-level-bpe.js';
import type { AnyTokenizer } from '../tokenizer/any-tokenizer.js';
import { PieceType } from '../tokenizer/vocabulary.js';
import type { SpecialTokenTexts } from './chat-template.js';

export function encodeChat(tokenizer: AnyTokenizer, text: string): number[] {
  if (tokenizer instanceof ByteLevelBpeTokenizer) {
    const ids = tokenizer.encode(text, { special: true });
    const { bosId, addBos } = tokenizer.vocab;
    return addBos && bosId >= 0 && ids[0] !== bosId ? [bosId, ...ids] : ids;
  }
  const ids = cutSpecialPieces(tokenizer.vocab.pieces, tokenizer.vocab.types, text)
    .flatMap((part) => (typeof part === 'number' ? [part] : tokenizer.encode(part)));
  const bosId = tokenizer.vocab.bosId;
  return bosId >= 0 && ids[0] !== bosId ? [bosId, ...ids] : ids;
}

// The texts of BOS and EOS that a template is given ('' where the vocabulary has none).
export function specialTokenTexts(tokenizer: AnyTokenizer): SpecialTokenTexts {
  const texts = tokenizer instanceof ByteLevelBpeTokenizer ? tokenizer.vocab.tokens : tokenizer.vocab.pieces;
  const { bosId, eosId } = tokenizer.vocab;
  return { bosToken: texts[bosId] ?? '', eosToken: texts[eosId] ?? '' };
}

const SPECIAL_TYPES: ReadonlySet<number> = new Set([PieceType.CONTROL, PieceType.USER_DEFINED, PieceType.UNKNOWN]);

// The text as plain pieces and the ids of the special pieces found in it (llama.cpp's
// tokenizer_st_partition): each special piece in turn, longest first, splits what is left.
function cutSpecialPieces(pieces: readonly string[], types: Uint8Array, text: string): (string | number)[] {
  const specials = pieces.map((_, id) => id).filter((id) => SPECIAL_TYPES.has(types[id]) && pieces[id] !== '');
  specials.sort((a, b) => pieces[b].length - pieces[a].length || a - b);
  let parts: (string | number)[] = text === '' ? [] : [text];
  for (const id of specials) {
    parts = parts.flatMap((part) => {
      if (typeof part === 'number' || !part.includes(pieces[id])) return [part];
      return part.split(pieces[id]).flatMap((piece, i) => [...(i > 0 ? [id] : []), ...(piece === '' ? [] : [piece])]);
    });
  }
  return parts;
}
