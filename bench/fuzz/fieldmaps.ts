// Where the fields of a valid seed file are, found by walking it with code of its own (not
// the parsers under test, so their mistakes are not shared). Only valid seeds are walked.
import type { Field, FieldMap, Str } from './mutate.js';

class Walker {
  readonly v: DataView;
  at = 0;
  readonly map: FieldMap = { fields: [], strings: [] };
  constructor(readonly b: Uint8Array) {
    this.v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }
  field(kind: Field['kind'], what: string): Field {
    const f = { at: this.at, kind, what };
    this.map.fields.push(f);
    return f;
  }
  u32(what: string): number {
    this.field('u32', what);
    const x = this.v.getUint32(this.at, true);
    this.at += 4;
    return x;
  }
  u64(what: string): number {
    this.field('u64', what);
    const x = Number(this.v.getBigUint64(this.at, true));
    this.at += 8;
    return x;
  }
  ggufString(what: string): void {
    const lenField = this.field('u64', `${what} length`);
    const len = Number(this.v.getBigUint64(this.at, true));
    this.at += 8;
    this.map.strings.push({ at: this.at, len, lenField });
    this.at += len;
  }
}

const GGUF_SCALAR_BYTES = [1, 1, 2, 2, 4, 4, 4, 1, -1, -1, 8, 8, 8]; // by value type; 8 string, 9 array

// GGUF: header counts, every key and string (with its length), value types, array lengths,
// tensor names, n_dims, dims, ggml types and offsets. Big arrays (a vocabulary) contribute
// only their first 64 strings, so one token list does not drown the header's fields.
export function ggufFieldMap(bytes: Uint8Array): FieldMap {
  const w = new Walker(bytes);
  w.u32('magic');
  w.u32('version');
  const nTensors = w.u64('n_tensors');
  const nKv = w.u64('n_kv');
  const value = (type: number, depth: number): void => {
    if (type === 8) return w.ggufString('string value');
    if (type === 9) {
      const inner = w.u32('array type');
      const n = w.u64('array length');
      for (let i = 0; i < n; i++) {
        if (i < 64 || inner === 9) value(inner, depth + 1);
        else if (inner === 8) { const len = Number(w.v.getBigUint64(w.at, true)); w.at += 8 + len; }
        else w.at += GGUF_SCALAR_BYTES[inner];
      }
      return;
    }
    const size = GGUF_SCALAR_BYTES[type];
    if (size === 4) w.field(type === 6 ? 'f32' : 'u32', 'value');
    else if (size === 8) w.field('u64', 'value');
    else if (size === 1) w.field('u8', 'value');
    w.at += size;
  };
  for (let i = 0; i < nKv; i++) {
    w.ggufString('key');
    value(w.u32('value type'), 0);
  }
  for (let i = 0; i < nTensors; i++) {
    w.ggufString('tensor name');
    const nDims = w.u32('n_dims');
    for (let d = 0; d < nDims; d++) w.u64('dim');
    w.u32('ggml type');
    w.u64('offset');
  }
  return w.map;
}

// llama2.c checkpoint: the seven int32 header fields (after magic and version in v1).
export function llama2cFieldMap(bytes: Uint8Array): FieldMap {
  const v1 = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true) === 0x616b3432;
  const start = v1 ? 8 : 0;
  const names = ['dim', 'hidden_dim', 'n_layers', 'n_heads', 'n_kv_heads', 'vocab_size', 'seq_len'];
  const fields: Field[] = names.map((what, i) => ({ at: start + 4 * i, kind: 'i32', what }));
  if (v1) fields.push({ at: 0, kind: 'u32', what: 'magic' }, { at: 4, kind: 'i32', what: 'version' }, { at: 36, kind: 'u8', what: 'shared_classifier' });
  return { fields, strings: [] };
}

// llama2.c tokenizer.bin: max_token_length, then per token a float score, an int32 length
// and the bytes (the first 200 tokens mapped).
export function llama2cTokenizerFieldMap(bytes: Uint8Array): FieldMap {
  const w = new Walker(bytes);
  w.map.fields.push({ at: 0, kind: 'i32', what: 'max_token_length' });
  w.at = 4;
  for (let i = 0; w.at < bytes.length && i < 200; i++) {
    w.field('f32', 'score');
    w.at += 4;
    const lenField = w.field('i32', 'length');
    const len = w.v.getInt32(w.at, true);
    w.at += 4;
    w.map.strings.push({ at: w.at, len, lenField });
    w.at += len;
  }
  return w.map;
}

// Protobuf (SentencePiece .model): every tag and varint, every length prefix, and each
// length-delimited field either as a nested message (if it parses as one) or a string.
export function protobufFieldMap(bytes: Uint8Array): FieldMap {
  const map: FieldMap = { fields: [], strings: [] };
  const varint = (b: Uint8Array, at: number): [number, number] => {
    let x = 0, mul = 1, n = 0;
    while (true) {
      const byte = b[at + n++];
      if (byte === undefined || n > 10) throw new Error('bad varint');
      x += (byte & 0x7f) * mul;
      mul *= 128;
      if (!(byte & 0x80)) return [x, n];
    }
  };
  // Checks that [from, to) is a sequence of well-formed fields (so it may be a message).
  const isMessage = (from: number, to: number): boolean => {
    try {
      let at = from;
      while (at < to) {
        const [key, n] = varint(bytes, at);
        at += n;
        const wire = key & 7;
        if (key >>> 3 === 0) return false;
        if (wire === 0) at += varint(bytes, at)[1];
        else if (wire === 1) at += 8;
        else if (wire === 5) at += 4;
        else if (wire === 2) { const [len, m] = varint(bytes, at); at += m + len; } else return false;
      }
      return at === to && to > from;
    } catch {
      return false;
    }
  };
  let budget = 4000; // fields mapped at most
  const walk = (from: number, to: number): void => {
    let at = from;
    while (at < to && budget-- > 0) {
      const [key, n] = varint(bytes, at);
      map.fields.push({ at, kind: 'varint', what: 'tag' });
      at += n;
      const wire = key & 7;
      if (wire === 0) { map.fields.push({ at, kind: 'varint', what: 'varint' }); at += varint(bytes, at)[1]; }
      else if (wire === 1) { map.fields.push({ at, kind: 'u64', what: 'fixed64' }); at += 8; }
      else if (wire === 5) { map.fields.push({ at, kind: 'f32', what: 'fixed32' }); at += 4; }
      else {
        const lenField: Field = { at, kind: 'varint', what: 'length' };
        map.fields.push(lenField);
        const [len, m] = varint(bytes, at);
        at += m;
        if (isMessage(at, at + len)) walk(at, at + len);
        else map.strings.push({ at, len, lenField: len < 128 ? lenField : undefined } satisfies Str);
        at += len;
      }
    }
  };
  walk(0, bytes.length);
  return map;
}

// safetensors: only the header length is binary; the header itself is edited as JSON.
export function safetensorsFieldMap(): FieldMap {
  return { fields: [{ at: 0, kind: 'u64', what: 'header length' }], strings: [] };
}
