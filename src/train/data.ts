// Training data: text → tokens → a token file → a train/validation split → batches.
//
//   documents  a document is a paragraph: lines up to a blank line. Each is encoded on its
//              own, with BOS in front (llama2.c's TinyStories pretokenization does the same
//              per story), so the model learns where a text starts.
//   token file "LTOK" u32 magic, u32 version 1, u32 bytes per token (2 when the vocabulary
//              fits in 16 bits, else 4), u32 vocab size, then the tokens little-endian.
//              The count is the rest of the file divided by the token width.
//   split      the last `valFraction` of the tokens is the validation set.
//   batches    B·A windows of T+1 tokens at positions drawn by an Rng seeded from (seed,
//              step): inputs are the first T, targets the last T. A step's batch is a pure
//              function of the seed and the step number, so a resumed run draws exactly the
//              batches an uninterrupted one would; the micro-batches of gradient
//              accumulation are consecutive slices of the step's B·A windows.
import { readFileSync } from 'node:fs';
import type { Batch } from '../../reference/train-model.js';
import { Rng } from '../../reference/random.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';

export const TOKEN_FILE_MAGIC = 0x4b4f544c; // "LTOK" little-endian
const TOKEN_FILE_HEADER_BYTES = 16;

export type TokenArray = Uint16Array | Uint32Array;

// Paragraphs of a text: runs of non-blank lines, joined with '\n', with '\r' removed.
export function splitDocuments(text: string): string[] {
  const docs: string[] = [];
  let lines: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') {
      if (lines.length > 0) docs.push(lines.join('\n'));
      lines = [];
    } else {
      lines.push(line);
    }
  }
  if (lines.length > 0) docs.push(lines.join('\n'));
  return docs;
}

// The smallest typed array that holds ids below vocabSize.
export function tokenArrayFor(vocabSize: number, length: number): TokenArray {
  return vocabSize <= 65535 ? new Uint16Array(length) : new Uint32Array(length);
}

// Every document of every text as [BOS, ...encode(document)], concatenated.
export function tokenizeTexts(texts: readonly string[], tokenizer: Tokenizer): TokenArray {
  const ids: number[] = [];
  for (const text of texts) {
    for (const doc of splitDocuments(text)) {
      const encoded = tokenizer.encode(doc, { bos: true });
      for (const id of encoded) ids.push(id);
    }
  }
  const out = tokenArrayFor(tokenizer.vocabSize, ids.length);
  out.set(ids);
  return out;
}

// The token file's bytes (header + tokens).
export function tokenFileBytes(tokens: TokenArray, vocabSize: number): Uint8Array {
  const width = tokens.BYTES_PER_ELEMENT;
  const out = new Uint8Array(TOKEN_FILE_HEADER_BYTES + tokens.length * width);
  const view = new DataView(out.buffer);
  view.setUint32(0, TOKEN_FILE_MAGIC, true);
  view.setUint32(4, 1, true);
  view.setUint32(8, width, true);
  view.setUint32(12, vocabSize, true);
  for (let i = 0; i < tokens.length; i++) {
    if (width === 2) view.setUint16(TOKEN_FILE_HEADER_BYTES + 2 * i, tokens[i], true);
    else view.setUint32(TOKEN_FILE_HEADER_BYTES + 4 * i, tokens[i], true);
  }
  return out;
}

export interface TokenFile {
  tokens: TokenArray;
  vocabSize: number;
}

// Parses a token file, checking the header and every id against the vocabulary size.
export function parseTokenFile(bytes: Uint8Array, fileName: string): TokenFile {
  if (bytes.length < TOKEN_FILE_HEADER_BYTES) throw new Error(`${fileName}: ${bytes.length} bytes is too short for a token file header (16 bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, true);
  if (magic !== TOKEN_FILE_MAGIC) throw new Error(`${fileName}: not a token file (magic 0x${magic.toString(16)} at byte 0, expected "LTOK")`);
  const version = view.getUint32(4, true);
  if (version !== 1) throw new Error(`${fileName}: token file version ${version} at byte 4 is not supported (expected 1)`);
  const width = view.getUint32(8, true);
  if (width !== 2 && width !== 4) throw new Error(`${fileName}: bytes per token ${width} at byte 8 must be 2 or 4`);
  const vocabSize = view.getUint32(12, true);
  if (vocabSize === 0 || (width === 2 && vocabSize > 65536)) throw new Error(`${fileName}: vocab size ${vocabSize} at byte 12 does not fit ${width}-byte tokens`);
  const payload = bytes.length - TOKEN_FILE_HEADER_BYTES;
  if (payload % width !== 0) throw new Error(`${fileName}: ${payload} bytes of tokens is not a multiple of ${width}`);
  const tokens = width === 2 ? new Uint16Array(payload / 2) : new Uint32Array(payload / 4);
  for (let i = 0; i < tokens.length; i++) {
    const at = TOKEN_FILE_HEADER_BYTES + i * width;
    const id = width === 2 ? view.getUint16(at, true) : view.getUint32(at, true);
    if (id >= vocabSize) throw new Error(`${fileName}: token ${id} at byte ${at} is outside the vocabulary of ${vocabSize}`);
    tokens[i] = id;
  }
  return { tokens, vocabSize };
}

export function readTokenFile(path: string): TokenFile {
  return parseTokenFile(new Uint8Array(readFileSync(path)), path);
}

export interface DataSplit {
  train: TokenArray;
  val: TokenArray; // empty when valFraction is 0
}

// The last valFraction of the tokens (rounded down) is for validation.
export function splitTokens(tokens: TokenArray, valFraction: number): DataSplit {
  if (!(valFraction >= 0 && valFraction < 1)) throw new Error(`validation fraction must be in [0, 1), got ${valFraction}`);
  const nVal = Math.floor(tokens.length * valFraction);
  const cut = tokens.length - nVal;
  return { train: tokens.subarray(0, cut), val: tokens.subarray(cut) };
}

// A seed for step `step` of a run seeded `seed`: both mixed so nearby steps are unrelated.
export function stepSeed(seed: number, step: number): number {
  let h = Math.imul((seed >>> 0) ^ 0x85ebca6b, 0xcc9e2d51) >>> 0;
  h = Math.imul(h ^ (step >>> 0) ^ Math.floor(step / 4294967296), 0x1b873593) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

// A uniform integer in [0, n), n ≤ 2^53, from two 32-bit draws (bias below 2^-11 for any n).
function uniformBelow(rng: Rng, n: number): number {
  const hi = rng.nextU32() >>> 11; // 21 bits
  const lo = rng.nextU32();
  return (hi * 4294967296 + lo) % n;
}

// `count` window starts in [0, tokens.length − T − 1], the windows being T+1 tokens long.
export function drawPositions(rng: Rng, nTokens: number, T: number, count: number): number[] {
  const range = nTokens - T; // starts 0 .. nTokens−T−1 leave room for the T+1 tokens
  if (range < 1) throw new Error(`the data has ${nTokens} tokens, too few for one sequence of ${T}+1 (lower --seq-len or add text)`);
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(uniformBelow(rng, range));
  return out;
}

// B sequences of T tokens starting at `starts`, with next-token targets.
export function batchAt(tokens: TokenArray, starts: readonly number[], T: number): Batch {
  const B = starts.length;
  const inputs = new Int32Array(B * T); // [B, T]
  const targets = new Int32Array(B * T); // [B, T]
  starts.forEach((s, b) => {
    for (let t = 0; t < T; t++) {
      inputs[b * T + t] = tokens[s + t];
      targets[b * T + t] = tokens[s + t + 1];
    }
  });
  return { tokens: inputs, targets, B, T };
}

// The `accum` micro-batches of B sequences for optimizer step `step` (1-based).
export function stepBatches(tokens: TokenArray, seed: number, step: number, B: number, T: number, accum: number): Batch[] {
  const starts = drawPositions(new Rng(stepSeed(seed, step)), tokens.length, T, B * accum);
  const out: Batch[] = [];
  for (let a = 0; a < accum; a++) out.push(batchAt(tokens, starts.slice(a * B, (a + 1) * B), T));
  return out;
}

// A fixed set of `count` validation batches, the same at every evaluation.
export function validationBatches(val: TokenArray, seed: number, count: number, B: number, T: number): Batch[] {
  const rng = new Rng(stepSeed(seed ^ 0x76616c21, 0)); // "val!": a stream apart from the training steps'
  const out: Batch[] = [];
  for (let i = 0; i < count; i++) out.push(batchAt(val, drawPositions(rng, val.length, T, B), T));
  return out;
}
