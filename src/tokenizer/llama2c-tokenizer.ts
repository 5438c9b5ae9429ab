// llama2.c's tokenizer.bin (written by its tokenizer.py export), read and written:
//
//   int32   max_token_length          longest piece in bytes (a buffer size for run.c)
//   then, once per token, id = record index:
//     float32 score
//     int32   length                  bytes in the piece
//     uint8   bytes[length]           UTF-8, with ▁ written as a plain space
//
// All little-endian. The vocabulary size is not stored: it is the number of records,
// read until the end of the file (or checked against an expected count).
// The file stores no piece types; they follow LLaMA's layout (see inferPieceType).
// Written as tokenizer.py writes it: BOS and EOS are spelled "\n<s>\n" and "\n</s>\n".
import { SPACE_SYMBOL, inferPieceType, validateVocabulary, type Vocabulary } from './vocabulary.js';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }); // keep a leading U+FEFF: LLaMA has it as a piece

export interface Llama2cTokenizer {
  maxTokenLength: number;
  pieces: string[]; // with spaces already turned back into ▁
  scores: number[];
}

export function parseLlama2cTokenizer(bytes: Uint8Array, fileName: string, expectedCount?: number): Llama2cTokenizer {
  if (expectedCount !== undefined && !(Number.isInteger(expectedCount) && expectedCount >= 0)) {
    throw new Error(`${fileName}: expected token count ${expectedCount} is not a non-negative integer`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 4) throw new Error(`${fileName}: too short for a tokenizer.bin header (${bytes.length} bytes)`);
  const maxTokenLength = view.getInt32(0, true);
  if (maxTokenLength < 0) throw new Error(`${fileName}: max_token_length ${maxTokenLength} is negative (byte offset 0)`);

  const pieces: string[] = [];
  const scores: number[] = [];
  let pos = 4;
  while (pos < bytes.length && (expectedCount === undefined || pieces.length < expectedCount)) {
    const id = pieces.length;
    if (bytes.length - pos < 8) {
      throw new Error(`${fileName}: token ${id}: truncated record header at byte offset ${pos}`);
    }
    const score = view.getFloat32(pos, true);
    const length = view.getInt32(pos + 4, true);
    pos += 8;
    if (length < 0 || length > bytes.length - pos) {
      throw new Error(`${fileName}: token ${id}: length ${length} at byte offset ${pos - 4} does not fit in the ${bytes.length - pos} bytes left`);
    }
    let text: string;
    try {
      text = utf8.decode(bytes.subarray(pos, pos + length));
    } catch {
      throw new Error(`${fileName}: token ${id}: piece at byte offset ${pos} is not valid UTF-8`);
    }
    pos += length;
    pieces.push(text.replaceAll(' ', SPACE_SYMBOL));
    scores.push(score);
  }
  if (expectedCount !== undefined && pieces.length !== expectedCount) {
    throw new Error(`${fileName}: has ${pieces.length} tokens, expected ${expectedCount}`);
  }
  return { maxTokenLength, pieces, scores };
}

// The tokenizer's view of a tokenizer.bin: <unk>/<s>/</s> at 0/1/2, byte fallback on,
// the dummy prefix on and no whitespace collapsing, as llama2.c's run.c encodes.
export function vocabularyFromLlama2c(bytes: Uint8Array, fileName: string, expectedCount?: number): Vocabulary {
  const t = parseLlama2cTokenizer(bytes, fileName, expectedCount);
  if (t.pieces.length < 3) throw new Error(`${fileName}: ${t.pieces.length} tokens; <unk>, <s>, </s> need at least 3`);
  const vocab: Vocabulary = {
    pieces: t.pieces,
    scores: Float32Array.from(t.scores),
    types: Uint8Array.from(t.pieces, (piece, id) => inferPieceType(piece, id)),
    unkId: 0,
    bosId: 1,
    eosId: 2,
    padId: -1,
    addDummyPrefix: true,
    removeExtraWhitespaces: false,
    byteFallback: true,
    escapeWhitespaces: true,
  };
  validateVocabulary(vocab, fileName);
  return vocab;
}

// The vocabulary as a tokenizer.bin that run.c reads.
export function llama2cTokenizerBytes(vocab: Vocabulary): Uint8Array {
  const encoder = new TextEncoder();
  const spelling = (p: string, id: number) => (id === vocab.bosId ? '\n<s>\n' : id === vocab.eosId ? '\n</s>\n' : p.replaceAll(SPACE_SYMBOL, ' '));
  const encoded = vocab.pieces.map((p, id) => encoder.encode(spelling(p, id))); // [V] record bytes
  const size = 4 + encoded.reduce((n, b) => n + 8 + b.length, 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setInt32(0, encoded.reduce((m, b) => Math.max(m, b.length), 0), true);
  let at = 4;
  encoded.forEach((b, id) => {
    view.setFloat32(at, vocab.scores[id], true);
    view.setInt32(at + 4, b.length, true);
    out.set(b, at + 8);
    at += 8 + b.length;
  });
  return out;
}
