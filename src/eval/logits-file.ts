// The base model's log-probabilities, saved by `perplexity --save-logits` for a later
// `--kl-divergence` run of another model (say Q4_0) over the same text.
//
// What is stored, and why: every token's log-softmax in F16, plus the target token's NLL in
// F32. All V entries (not a top-k plus the rest's mass) because KL over a top-k is only a
// lower bound, and the small vocabularies llama-ts runs (512 to 32000) make the full row
// cheap: 2·V bytes a scored token. Log-probabilities rather than logits because log p ≤ 0 and
// the probability mass sits near 0, where F16 is finest (relative error ≤ 2^-11, so an error
// of at most ~1e-3 in log p for p ≥ e^-2); the reader renormalizes the row, so rounding
// never makes a KL negative. The target's NLL is kept exactly, for an exact PPL(base).
//
// Layout (little-endian):
//   "LTSLOGP1"                      8 bytes
//   u32 headerBytes, JSON header    {model, vocabSize, context, chunks, first, scoredPerChunk}
//   zero padding to 4 bytes
//   i32 tokens[chunks × context]    the text's tokens as chunked (BOS first), to catch a mismatch
//   records[chunks × scoredPerChunk], each: f32 nll, u16 logProb[stride], stride = V rounded up to even
import { closeSync, fstatSync, openSync, readSync, renameSync, writeSync } from 'node:fs';
import { f16ToF32, f32ToF16 } from '../../reference/tensor.js';
import type { ChunkPlan } from './chunks.js';
import { logSumExp } from './log-probs.js';

const MAGIC = 'LTSLOGP1';
const MAX_HEADER_BYTES = 1 << 16;

export interface LogitsHeader {
  model: string;
  vocabSize: number;
  context: number;
  chunks: number;
  first: number;
  scoredPerChunk: number;
}

const stride = (V: number) => V + (V % 2);
const recordBytes = (V: number) => 4 + 2 * stride(V);

export class LogitsWriter {
  private fd: number;
  private record: Uint8Array;
  private view: DataView;
  private halves: Uint16Array;
  private written = 0;

  constructor(readonly path: string, readonly header: LogitsHeader, tokens: ArrayLike<number>) {
    this.fd = openSync(path + '.tmp', 'w');
    const json = new TextEncoder().encode(JSON.stringify(header));
    const head = new Uint8Array(align4(12 + json.length));
    head.set(new TextEncoder().encode(MAGIC), 0);
    new DataView(head.buffer).setUint32(8, json.length, true);
    head.set(json, 12);
    writeSync(this.fd, head);
    writeSync(this.fd, new Uint8Array(Int32Array.from(tokens).buffer));
    this.record = new Uint8Array(recordBytes(header.vocabSize));
    this.view = new DataView(this.record.buffer);
    this.halves = new Uint16Array(this.record.buffer, 4, stride(header.vocabSize));
  }

  // One scored position: its logits [V] and the token that followed.
  writeRow(row: Float32Array, target: number): void {
    const logZ = logSumExp(row);
    this.view.setFloat32(0, logZ - row[target], true);
    for (let i = 0; i < row.length; i++) this.halves[i] = f32ToF16(row[i] - logZ);
    writeSync(this.fd, this.record);
    this.written++;
  }

  // Checks that every row arrived, then moves the file into place.
  close(): void {
    closeSync(this.fd);
    const expected = this.header.chunks * this.header.scoredPerChunk;
    if (this.written !== expected) throw new Error(`${this.path}: ${this.written} rows written, ${expected} expected`);
    renameSync(this.path + '.tmp', this.path);
  }
}

export function logitsHeaderFor(plan: ChunkPlan, model: string, vocabSize: number): LogitsHeader {
  return { model, vocabSize, context: plan.context, chunks: plan.chunks, first: plan.first, scoredPerChunk: plan.scoredPerChunk };
}

export interface BaseRow {
  nll: number; // the target's NLL under the base model
  logProbs: Float32Array; // [V] log-softmax, renormalized after the F16 rounding
}

export class LogitsReader {
  readonly header: LogitsHeader;
  readonly tokens: Int32Array; // [chunks × context]
  private fd: number;
  private recordsAt: number;
  private record: Uint8Array;
  private halves: Uint16Array;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'r');
    try {
      const size = fstatSync(this.fd).size;
      const head = this.read(0, Math.min(size, 12));
      if (head.length < 12 || new TextDecoder().decode(head.subarray(0, 8)) !== MAGIC) {
        throw new Error(`${path}: not a llama-ts logits file (no ${MAGIC} magic; made by perplexity --save-logits?)`);
      }
      const jsonBytes = new DataView(head.buffer, head.byteOffset).getUint32(8, true);
      if (jsonBytes > MAX_HEADER_BYTES || 12 + jsonBytes > size) throw new Error(`${path}: header length ${jsonBytes} does not fit the file of ${size} bytes`);
      this.header = parseHeader(new TextDecoder().decode(this.read(12, jsonBytes)), path);
      const { vocabSize: V, context, chunks, scoredPerChunk } = this.header;
      const tokensAt = align4(12 + jsonBytes);
      this.recordsAt = tokensAt + 4 * chunks * context;
      const expected = this.recordsAt + chunks * scoredPerChunk * recordBytes(V);
      if (size !== expected) throw new Error(`${path}: ${size} bytes, but its header (${chunks} chunks of ${context}, vocabulary ${V}) needs ${expected}: cut short or not this format`);
      const tokenBytes = this.read(tokensAt, 4 * chunks * context);
      this.tokens = new Int32Array(tokenBytes.buffer, tokenBytes.byteOffset, chunks * context);
      this.record = new Uint8Array(recordBytes(V));
      this.halves = new Uint16Array(this.record.buffer, 4, stride(V));
    } catch (e) {
      closeSync(this.fd);
      throw e;
    }
  }

  // Scored row j (0-based within the chunk's scored rows) of chunk i.
  row(i: number, j: number, out: Float32Array): number {
    const { vocabSize: V, scoredPerChunk } = this.header;
    const at = this.recordsAt + (i * scoredPerChunk + j) * this.record.length;
    if (readSync(this.fd, this.record, 0, this.record.length, at) !== this.record.length) throw new Error(`${this.path}: short read at byte ${at}`);
    for (let v = 0; v < V; v++) out[v] = f16ToF32Fast(this.halves[v]);
    const logZ = logSumExp(out.subarray(0, V));
    for (let v = 0; v < V; v++) out[v] -= logZ;
    return new DataView(this.record.buffer).getFloat32(0, true);
  }

  close(): void {
    closeSync(this.fd);
  }

  private read(at: number, length: number): Uint8Array {
    const bytes = new Uint8Array(length);
    if (readSync(this.fd, bytes, 0, length, at) !== length) throw new Error(`${this.path}: short read at byte ${at}`);
    return bytes;
  }
}

function parseHeader(text: string, path: string): LogitsHeader {
  let h: Record<string, unknown>;
  try {
    h = JSON.parse(text);
  } catch {
    throw new Error(`${path}: the header is not JSON`);
  }
  const limits: [keyof LogitsHeader, number][] = [['vocabSize', 1 << 22], ['context', 1 << 22], ['chunks', 1 << 24], ['first', 1 << 22], ['scoredPerChunk', 1 << 22]];
  for (const [field, max] of limits) {
    const v = h[field];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) throw new Error(`${path}: header field "${field}" must be an integer in 1..${max}, got ${JSON.stringify(v)}`);
  }
  if (typeof h.model !== 'string') throw new Error(`${path}: header field "model" must be a string`);
  const header = h as unknown as LogitsHeader;
  if (header.first !== Math.floor(header.context / 2) || header.scoredPerChunk !== header.context - 1 - header.first) {
    throw new Error(`${path}: header fields "first"/"scoredPerChunk" do not match a context of ${header.context}`);
  }
  return header;
}

const align4 = (n: number) => (n + 3) & ~3;

// F16 bits → number through a 65536-entry table (the reader converts V values a row).
let f16Table: Float32Array | undefined;
function f16ToF32Fast(h: number): number {
  f16Table ??= Float32Array.from({ length: 65536 }, (_, i) => f16ToF32(i));
  return f16Table[h];
}
