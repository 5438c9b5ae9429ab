// The data a SentencePiece BPE tokenizer needs, whatever file it came from
// (SentencePiece .model, llama2.c tokenizer.bin, GGUF metadata).
//
// Pieces use SentencePiece's convention: a space is stored as ▁ (U+2581), and a
// byte-fallback piece is spelled <0xHH>.

// SentencePiece's piece types (sentencepiece_model.proto, also GGUF's token_type).
export const PieceType = {
  NORMAL: 1, // learned by BPE; may be produced by merges
  UNKNOWN: 2, // <unk>
  CONTROL: 3, // <s>, </s>: never produced from text, decode to nothing
  USER_DEFINED: 4, // matched as a whole before BPE, never split or merged
  UNUSED: 5, // may be an intermediate merge, but is split back before output
  BYTE: 6, // <0xHH>: one raw byte, for characters outside the vocabulary
} as const;

export interface Vocabulary {
  pieces: string[]; // [V] piece text, id = index
  scores: Float32Array; // [V] merge priority: higher merges first
  types: Uint8Array; // [V] PieceType values
  unkId: number;
  bosId: number;
  eosId: number;
  padId: number; // -1 if none
  addDummyPrefix: boolean; // prepend one space to non-empty text
  removeExtraWhitespaces: boolean; // strip leading/trailing spaces, collapse runs of spaces
  byteFallback: boolean; // characters outside the vocabulary become <0xHH> pieces, not <unk>
  escapeWhitespaces: boolean; // spaces become ▁ before BPE
  // Apply Unicode NFKC before encoding. SentencePiece's nmt_nfkc normalizers use a
  // precompiled character map that we do not interpret; NFKC is our approximation.
  nfkc?: boolean;
}

export const SPACE_SYMBOL = '\u2581'; // ▁

const BYTE_PIECE = /^<0x([0-9A-Fa-f]{2})>$/;

// The byte a <0xHH> piece stands for, or -1 for any other piece.
export function pieceByte(piece: string): number {
  const m = BYTE_PIECE.exec(piece);
  return m ? parseInt(m[1], 16) : -1;
}

// The type of a piece in a file that stores no types (llama2.c): ids 0/1/2 are
// <unk>/<s>/</s> as in every LLaMA vocabulary, <0xHH> pieces are bytes.
export function inferPieceType(piece: string, id: number): number {
  if (id === 0) return PieceType.UNKNOWN;
  if (id === 1 || id === 2) return PieceType.CONTROL;
  if (pieceByte(piece) >= 0) return PieceType.BYTE;
  return PieceType.NORMAL;
}

// Throws, naming the file and field, when a vocabulary is inconsistent.
export function validateVocabulary(v: Vocabulary, fileName: string): void {
  const n = v.pieces.length;
  if (n === 0) throw new Error(`${fileName}: vocabulary is empty`);
  if (v.scores.length !== n) throw new Error(`${fileName}: ${v.scores.length} scores for ${n} pieces`);
  if (v.types.length !== n) throw new Error(`${fileName}: ${v.types.length} piece types for ${n} pieces`);
  for (let id = 0; id < n; id++) {
    const t = v.types[id];
    if (t < PieceType.NORMAL || t > PieceType.BYTE) {
      throw new Error(`${fileName}: piece ${id} has unknown type ${t}`);
    }
    if (t === PieceType.BYTE && pieceByte(v.pieces[id]) < 0) {
      throw new Error(`${fileName}: piece ${id} (${JSON.stringify(v.pieces[id])}) has type BYTE but is not <0xHH>`);
    }
  }
  const ids: [string, number][] = [['unkId', v.unkId], ['bosId', v.bosId], ['eosId', v.eosId], ['padId', v.padId]];
  for (const [field, id] of ids) {
    if (!Number.isInteger(id) || id < -1 || id >= n) {
      throw new Error(`${fileName}: ${field} ${id} is outside the vocabulary of ${n} pieces`);
    }
  }
  if (v.unkId < 0) throw new Error(`${fileName}: unkId is required (got -1)`);
}
