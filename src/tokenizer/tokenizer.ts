// LLaMA's tokenizer: SentencePiece BPE over a Vocabulary, from any of its file formats.
//
//   encode: text → normalize (normalize.ts) → BPE merges (bpe.ts) → ids, BOS/EOS if asked
//   decode: ids → piece surfaces (▁ → space, <0xHH> → its byte, control pieces → nothing)
//           with the dummy-prefix space removed from the start of the text
//
// decode() is the stream decoder run over all ids, so the two always agree.
//
// Round trips: decode(encode(s)) === s for any well-formed text when the vocabulary has
// byte fallback and no whitespace removal (LLaMA), with two documented exceptions that
// SentencePiece shares: a lone surrogate becomes U+FFFD (as TextEncoder would write it),
// and a ▁ (U+2581) typed in the text comes back as a space.
import { BpeEncoder } from './bpe.js';
import { vocabularyFromFile } from './model-vocabulary.js';
import { normalize } from './normalize.js';
import { decodeAll, type TextTokenizer } from './text-tokenizer.js';
import { PendingBytes } from './utf8-bytes.js';
import { PieceType, SPACE_SYMBOL, pieceByte, validateVocabulary, type Vocabulary } from './vocabulary.js';

// What SentencePiece prints for <unk> (its default unk_surface): " ⁇ ".
export const UNKNOWN_SURFACE = ' \u2047 ';

export interface EncodeOptions {
  bos?: boolean; // prepend the BOS id (default false)
  eos?: boolean; // append the EOS id (default false)
}

export interface StreamDecoder {
  push(id: number): string; // the text that `id` completes (may be "")
  flush(): string; // whatever is held back at the end (cut-off bytes become U+FFFD)
}

const utf8Encoder = new TextEncoder();

export class Tokenizer implements TextTokenizer {
  private readonly bpe: BpeEncoder;

  // `name` (the file the vocabulary came from) starts every error, so that a vocabulary that
  // loads but cannot do what is asked (no BOS, a byte with no token) says whose it is.
  constructor(readonly vocab: Vocabulary, readonly name = 'tokenizer') {
    validateVocabulary(vocab, name);
    this.bpe = new BpeEncoder(vocab);
  }

  get vocabSize(): number {
    return this.vocab.pieces.length;
  }

  // Generation stops at EOS (the one end-of-generation token SentencePiece LLaMA has).
  isEndOfGeneration(id: number): boolean {
    return id === this.vocab.eosId;
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    const ids = this.bpe.encode(normalize(text, this.vocab));
    if (opts.bos) ids.unshift(this.specialId('bosId'));
    if (opts.eos) ids.push(this.specialId('eosId'));
    return ids;
  }

  decode(ids: number[]): string {
    return decodeAll(this.createStreamDecoder(), ids);
  }

  // SentencePiece's decoder, one id at a time. A character spelled by several byte pieces
  // is emitted once its last byte arrives. The leading ▁ of the first piece that starts
  // the text is the dummy prefix and is dropped (only one; with removeExtraWhitespaces
  // every leading ▁ piece is, since encoding never produces leading spaces then).
  createStreamDecoder(): StreamDecoder {
    const pending = new PendingBytes();
    let textStarted = false; // some text was emitted
    let prefixConsumed = false; // the previous piece gave up the dummy-prefix ▁
    let atStart = true; // a piece starting with ▁ still has the dummy prefix to drop
    const emit = (s: string): string => {
      if (s.length > 0) textStarted = true;
      return s;
    };
    return {
      push: (id: number): string => {
        this.checkId(id);
        if (this.vocab.types[id] === PieceType.BYTE) return emit(pending.push(pieceByte(this.vocab.pieces[id])));
        const bytesText = emit(pending.flush());
        if (prefixConsumed || textStarted) atStart = false;
        const [surface, consumed] = this.surface(id, atStart);
        prefixConsumed = consumed;
        return bytesText + emit(surface);
      },
      flush: (): string => emit(pending.flush()),
    };
  }

  // The bytes of one piece as llama2.c's run.c prints them: a BYTE piece is its raw byte,
  // a control piece nothing, and the piece right after BOS loses its leading space.
  // (Unlike the stream decoder this looks only at the previous id; for generation from
  // BOS the two agree.)
  decodePiece(prevId: number, id: number): Uint8Array {
    this.checkId(id);
    const type = this.vocab.types[id];
    if (type === PieceType.BYTE) return Uint8Array.of(pieceByte(this.vocab.pieces[id]));
    const afterBos = prevId === this.vocab.bosId && this.vocab.bosId >= 0;
    return utf8Encoder.encode(this.surface(id, afterBos)[0]);
  }

  // The text of a non-byte piece, and whether it gave up the dummy-prefix ▁.
  private surface(id: number, atStart: boolean): [string, boolean] {
    const type = this.vocab.types[id];
    if (type === PieceType.CONTROL) return ['', false];
    if (type === PieceType.UNKNOWN) return [UNKNOWN_SURFACE, false];
    let piece = this.vocab.pieces[id];
    let consumed = false;
    const hasPrefix = this.vocab.addDummyPrefix || this.vocab.removeExtraWhitespaces;
    if (atStart && hasPrefix && piece.startsWith(SPACE_SYMBOL)) {
      piece = piece.slice(SPACE_SYMBOL.length);
      // Without extra whitespace removal only one ▁ is the prefix; with it, leading
      // spaces cannot come from the text, so keep dropping them.
      consumed = !this.vocab.removeExtraWhitespaces;
    }
    return [piece.replaceAll(SPACE_SYMBOL, ' '), consumed];
  }

  private specialId(field: 'bosId' | 'eosId'): number {
    const id = this.vocab[field];
    if (id < 0) throw new Error(`${this.name}: this vocabulary has no ${field === 'bosId' ? 'BOS' : 'EOS'} token`);
    return id;
  }

  private checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new Error(`${this.name}: token id ${id} is outside the vocabulary (0..${this.vocabSize - 1})`);
    }
  }
}

// A SentencePiece tokenizer from the bytes of a tokenizer file (recognised as
// model-vocabulary.ts says); a byte-level vocabulary is any-tokenizer.ts's.
export function tokenizerFromBytes(bytes: Uint8Array, fileName: string): Tokenizer {
  const read = vocabularyFromFile({ name: fileName, bytes });
  if (read.kind !== 'sentencepiece') throw new Error(`${fileName}: a byte-level BPE vocabulary, where SentencePiece was needed here`);
  return new Tokenizer(read.vocabulary, fileName);
}
