// Byte-level BPE (GPT-2 style, as LLaMA 3 uses) over a ByteLevelVocabulary.
//
//   encode: text → special tokens cut out (only when asked, but added user tokens always)
//           → words (pretokenize.ts) → each word's UTF-8 bytes in GPT-2's byte alphabet
//           (byte-to-unicode.ts) → merges by rank (byte-level-merges.ts) → ids
//   decode: ids → token bytes (byte alphabet back to bytes; control tokens → nothing;
//           added user tokens as written) → UTF-8 text, a character once all its bytes came
//
// As llama.cpp does (llama-vocab.cpp): a LLaMA 3 word that is itself a token is that token
// without merging (ignore_merges), special tokens are matched longest first, and a merged
// symbol that is not a token falls back to its single bytes.
//
// Round trips: decode(encode(s)) === s for any well-formed text; every byte has a token.
// decode() is the stream decoder run over all ids, so the two always agree.
import { BYTE_TO_CHAR, bytesToSymbols, symbolsToBytes } from './byte-to-unicode.js';
import { MergeRanks, mergeWord } from './byte-level-merges.js';
import { END_OF_TURN_TOKENS, validateByteLevelVocabulary, type ByteLevelVocabulary } from './byte-level-vocabulary.js';
import { preTokenizer, splitWords, type PreTokenizer } from './pretokenize.js';
import { decodeAll, type TextEncodeOptions, type TextStreamDecoder, type TextTokenizer } from './text-tokenizer.js';
import { PendingBytes } from './utf8-bytes.js';
import { PieceType, pieceByte } from './vocabulary.js';

// bos: true prepends BOS only where the vocabulary's add_bos_token says so (llama.cpp's
// add_special; generation asks for it by default); eos: true appends EOS.
export interface ByteLevelEncodeOptions extends TextEncodeOptions {
  special?: boolean; // match control tokens (<|begin_of_text|>, <|eot_id|>...) in the text (default false)
}

const WORD_CACHE_LIMIT = 1 << 16; // words remembered before the cache starts over
// Longer words are not remembered: a real word is short and recurs, while a hostile prompt's
// megabyte-long "word" would otherwise stay in the cache, with its ids, for 65536 more words
// (found by the fuzzer: a worker tokenizing 1 MB prompts ran out of a 512 MB heap).
const WORD_CACHE_MAX_LENGTH = 64;
const utf8 = new TextEncoder();

export class ByteLevelBpeTokenizer implements TextTokenizer {
  readonly pre: PreTokenizer;
  private readonly idOf = new Map<string, number>();
  private readonly ranks: MergeRanks;
  private readonly byteIds: number[] = []; // [256] the token of each single byte, -1 if none
  private readonly specialIds: number[]; // control, user-defined and unknown tokens, longest text first
  private readonly endOfGeneration: ReadonlySet<number>;
  private readonly wordCache = new Map<string, number[]>();
  private readonly tokenBytes: (Uint8Array | undefined)[] = []; // decoded token bytes, made on first use

  constructor(readonly vocab: ByteLevelVocabulary, readonly fileName = 'vocabulary') {
    validateByteLevelVocabulary(vocab, fileName);
    this.pre = preTokenizer(vocab.pre, `${fileName}: tokenizer.ggml.pre`);
    vocab.tokens.forEach((t, id) => {
      if (!this.idOf.has(t)) this.idOf.set(t, id);
    });
    this.ranks = new MergeRanks(vocab.merges, `${fileName}: merges`);
    for (let b = 0; b < 256; b++) this.byteIds.push(this.idOf.get(BYTE_TO_CHAR[b]) ?? -1);
    const special = new Set<number>([PieceType.CONTROL, PieceType.USER_DEFINED, PieceType.UNKNOWN]);
    this.specialIds = vocab.tokens.map((_, id) => id).filter((id) => special.has(vocab.types[id]));
    this.specialIds.sort((a, b) => vocab.tokens[b].length - vocab.tokens[a].length || a - b);
    this.endOfGeneration = endOfGenerationIds(vocab);
  }

  get vocabSize(): number {
    return this.vocab.tokens.length;
  }

  // The tokens generation stops at: EOS, EOT, EOM and the end-of-turn tokens of chat
  // templates that the vocabulary has (END_OF_TURN_TOKENS).
  get endOfGenerationIds(): number[] {
    return [...this.endOfGeneration].sort((a, b) => a - b);
  }

  isEndOfGeneration(id: number): boolean {
    return this.endOfGeneration.has(id);
  }

  encode(text: string, opts: ByteLevelEncodeOptions = {}): number[] {
    const ids: number[] = [];
    if (opts.bos && this.vocab.addBos) ids.push(this.vocab.bosId);
    for (const part of this.cutSpecialTokens(text, opts.special === true)) {
      if (typeof part === 'number') ids.push(part);
      else for (const word of splitWords(part, this.pre)) for (const id of this.encodeWord(word)) ids.push(id);
    }
    if (opts.eos) {
      if (this.vocab.eosId < 0) throw new Error(`${this.fileName}: this vocabulary has no EOS token`);
      ids.push(this.vocab.eosId);
    }
    return ids;
  }

  decode(ids: number[]): string {
    return decodeAll(this.createStreamDecoder(), ids);
  }

  // One id at a time; a character whose bytes span several tokens is emitted once its
  // last byte arrives (invalid bytes become U+FFFD, as in utf8-bytes.ts).
  createStreamDecoder(): TextStreamDecoder {
    const pending = new PendingBytes();
    return {
      push: (id: number): string => {
        let text = '';
        for (const b of this.decodePiece(-1, id)) text += pending.push(b);
        return text;
      },
      flush: (): string => pending.flush(),
    };
  }

  // The bytes of one token: a normal token's bytes, nothing for a control or unknown token,
  // an added user token as written. (`prevId` is unused: byte-level BPE has no dummy
  // prefix to drop; it is there to match the SentencePiece tokenizer.)
  decodePiece(_prevId: number, id: number): Uint8Array {
    this.checkId(id);
    let bytes = this.tokenBytes[id];
    if (!bytes) this.tokenBytes[id] = bytes = this.bytesOf(id);
    return bytes;
  }

  private bytesOf(id: number): Uint8Array {
    const token = this.vocab.tokens[id];
    switch (this.vocab.types[id]) {
      case PieceType.NORMAL:
        return Uint8Array.from(symbolsToBytes(token));
      case PieceType.USER_DEFINED:
        return utf8.encode(token);
      case PieceType.BYTE: {
        const byte = pieceByte(token); // <0xHH>, as in SentencePiece vocabularies
        return byte >= 0 ? Uint8Array.of(byte) : new Uint8Array(0);
      }
      default: // CONTROL, UNKNOWN, UNUSED: invisible, as llama.cpp prints them without special
        return new Uint8Array(0);
    }
  }

  // The text as pieces of plain text and ids of special tokens found in it, as llama.cpp's
  // tokenizer_st_partition: each special token in turn, longest first, splits the plain
  // pieces left so far. Without `special`, only added user tokens are matched.
  private cutSpecialTokens(text: string, special: boolean): (string | number)[] {
    let parts: (string | number)[] = text === '' ? [] : [text];
    for (const id of this.specialIds) {
      if (!special && this.vocab.types[id] !== PieceType.USER_DEFINED) continue;
      const token = this.vocab.tokens[id];
      const next: (string | number)[] = [];
      for (const part of parts) {
        if (typeof part === 'number' || !part.includes(token)) {
          next.push(part);
          continue;
        }
        part.split(token).forEach((piece, i) => {
          if (i > 0) next.push(id);
          if (piece !== '') next.push(piece);
        });
      }
      parts = next;
    }
    return parts;
  }

  // The ids of one pre-tokenized word.
  private encodeWord(word: string): number[] {
    const cached = this.wordCache.get(word);
    if (cached) return cached;
    const symbols = bytesToSymbols(utf8.encode(word));
    const whole = this.pre.ignoreMerges ? this.idOf.get(symbols) : undefined;
    const ids = whole !== undefined ? [whole] : mergeWord(symbols, this.ranks).flatMap((s) => this.symbolIds(s));
    if (word.length > WORD_CACHE_MAX_LENGTH) return ids;
    if (this.wordCache.size >= WORD_CACHE_LIMIT) this.wordCache.clear();
    this.wordCache.set(word, ids);
    return ids;
  }

  // A merged symbol's token, or (a merge whose result the vocabulary lacks) its bytes' tokens.
  private symbolIds(symbol: string): number[] {
    const id = this.idOf.get(symbol);
    if (id !== undefined) return [id];
    return symbolsToBytes(symbol).map((b) => {
      const byteId = this.byteIds[b];
      if (byteId < 0) throw new Error(`${this.fileName}: byte 0x${b.toString(16).padStart(2, '0')} has no token in this vocabulary`);
      return byteId;
    });
  }

  private checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new Error(`${this.fileName}: token id ${id} is outside the vocabulary (0..${this.vocabSize - 1})`);
    }
  }
}

function endOfGenerationIds(v: ByteLevelVocabulary): Set<number> {
  const ids = new Set([v.eosId, v.eotId, v.eomId].filter((id) => id >= 0));
  v.tokens.forEach((t, id) => {
    if (END_OF_TURN_TOKENS.includes(t)) ids.add(id);
  });
  return ids;
}
