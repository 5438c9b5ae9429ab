// Structure-aware mutations, as fast-check arbitraries of small "recipes" (lists of edits).
// A recipe is data, so fast-check can shrink a failing one (fewer edits, smaller numbers)
// and the runner can show which edits broke a parser; applying it to its seed gives the input.
//
// Binary files come with a field map (fieldmaps.ts): where the counts, lengths, dtypes,
// offsets, shapes and strings of the seed are. Most edits set one of those fields to a value
// that has broken real loaders (0, 2^31, 2^63, one less, one more, twice as big...) or
// respell a string (fixing its length prefix, so the parser reads on), and a few are blind
// byte flips, cuts and copied chunks. JSON seeds are edited as trees; text is built from
// pieces chosen to be awkward (lone surrogates, control characters, special-token spellings,
// a piece repeated up to a megabyte).
import fc from 'fast-check';

export type FieldKind = 'u8' | 'u32' | 'i32' | 'u64' | 'f32' | 'varint';

export interface Field {
  at: number;
  kind: FieldKind;
  what: string; // 'count' | 'len' | 'type' | 'dim' | 'offset' | 'value'...: for reports
}

export interface Str {
  at: number; // first byte of the text
  len: number; // its byte length
  lenField?: Field; // the prefix that holds len, rewritten when the spelling changes length
}

export interface FieldMap {
  fields: Field[];
  strings: Str[];
}

export interface BinarySeed extends FieldMap {
  name: string;
  bytes: Uint8Array;
}

export type BinaryEdit =
  | { op: 'set'; field: number; value: bigint }
  | { op: 'nudge'; field: number; delta: number; double: boolean }
  | { op: 'spell'; str: number; text: number }
  | { op: 'flip'; at: number; xor: number }
  | { op: 'cut'; at: number }
  | { op: 'copy'; from: number; to: number; len: number }
  | { op: 'del'; at: number; len: number };

export const INTERESTING: readonly bigint[] = [
  0n, 1n, 2n, 3n, 4n, 7n, 8n, 15n, 16n, 31n, 32n, 33n, 48n, 64n, 255n, 256n, 4096n, 65535n, 65536n,
  0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n,
];

// Spellings that broke tokenizers and loaders: bad byte tokens, empty and odd keys.
export const SPELLINGS: readonly string[] = [
  '', '<0x-1>', '<0x>', '<0xZZ>', '<0x100>', '<0xFF>', '<0x00>', '<0x0A>', '\u2581', '\u2581\u2581', '<s>', '</s>', '<unk>',
  '<|eot_id|>', '\u0120', 'a', 'general.alignment', 'llama.block_count', 'llama.context_length', 'llama.embedding_length',
  'tokenizer.ggml.tokens', 'tokenizer.ggml.model', 'token_embd.weight', 'output.weight', 'blk.0.attn_q.weight', 'x'.repeat(300),
  '\u0000', '\uFFFD', '\u{1F600}', 'llama', 'gpt2', 'F32', 'BF16', '..', '../../etc/passwd',
];

const utf8 = new TextEncoder();
// Raw byte spellings that no string can make: invalid UTF-8, a lone surrogate as CESU-8.
const RAW_SPELLINGS: readonly Uint8Array[] = [...SPELLINGS.map((s) => utf8.encode(s)), new Uint8Array([0xff, 0xfe]), new Uint8Array([0xed, 0xa0, 0x80]), new Uint8Array([0xc0])];

// Field, string and byte positions are drawn unbounded and taken modulo what the seed has
// when applied, so one arbitrary serves every seed (and shrinks toward the first field).
export function binaryEdit(): fc.Arbitrary<BinaryEdit> {
  const index = fc.nat(1 << 20);
  const value = fc.oneof(fc.constantFrom(...INTERESTING), fc.bigInt(0n, 300n), fc.bigInt(0n, 2n ** 64n - 1n));
  const structured = fc.oneof(
    { arbitrary: fc.record({ op: fc.constant('set' as const), field: index, value }), weight: 3 },
    { arbitrary: fc.record({ op: fc.constant('nudge' as const), field: index, delta: fc.integer({ min: -2, max: 2 }), double: fc.boolean() }), weight: 1 },
    { arbitrary: fc.record({ op: fc.constant('spell' as const), str: index, text: fc.nat(RAW_SPELLINGS.length - 1) }), weight: 2 },
  );
  const blind = fc.oneof(
    fc.record({ op: fc.constant('flip' as const), at: index, xor: fc.integer({ min: 1, max: 255 }) }),
    fc.record({ op: fc.constant('cut' as const), at: index }),
    fc.record({ op: fc.constant('copy' as const), from: index, to: index, len: fc.integer({ min: 1, max: 64 }) }),
    fc.record({ op: fc.constant('del' as const), at: index, len: fc.integer({ min: 1, max: 64 }) }),
  );
  return fc.oneof({ arbitrary: structured, weight: 4 }, { arbitrary: blind, weight: 1 });
}

export function binaryEdits(max = 4): fc.Arbitrary<BinaryEdit[]> {
  return fc.array(binaryEdit(), { minLength: 1, maxLength: max });
}

const WIDTH: Record<FieldKind, number> = { u8: 1, u32: 4, i32: 4, u64: 8, f32: 4, varint: 0 };

function readField(b: Uint8Array, f: Field): bigint {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (f.at + Math.max(1, WIDTH[f.kind]) > b.length) return 0n;
  switch (f.kind) {
    case 'u8': return BigInt(b[f.at]);
    case 'u32': return BigInt(v.getUint32(f.at, true));
    case 'i32': return BigInt(v.getInt32(f.at, true));
    case 'u64': return v.getBigUint64(f.at, true);
    case 'f32': return BigInt(Math.trunc(v.getFloat32(f.at, true)) | 0);
    case 'varint': {
      let x = 0n, shift = 0n;
      for (let i = f.at; i < b.length && i < f.at + 10; i++, shift += 7n) {
        x |= BigInt(b[i] & 0x7f) << shift;
        if (!(b[i] & 0x80)) break;
      }
      return x;
    }
  }
}

export function encodeVarint(x: bigint): Uint8Array {
  const out: number[] = [];
  let v = BigInt.asUintN(64, x);
  do {
    const low = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v ? low | 0x80 : low);
  } while (v);
  return Uint8Array.from(out);
}

function varintLength(b: Uint8Array, at: number): number {
  let n = 0;
  while (at + n < b.length && n < 10 && b[at + n] & 0x80) n++;
  return Math.min(n + 1, b.length - at);
}

// Writes `x` into field f of `b` (returns a new array if the width changed: varints).
function writeField(b: Uint8Array, f: Field, x: bigint): Uint8Array {
  if (f.kind === 'varint') return splice(b, f.at, varintLength(b, f.at), encodeVarint(x));
  if (f.at + WIDTH[f.kind] > b.length) return b;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  switch (f.kind) {
    case 'u8': b[f.at] = Number(x & 0xffn); break;
    case 'u32': v.setUint32(f.at, Number(BigInt.asUintN(32, x)), true); break;
    case 'i32': v.setInt32(f.at, Number(BigInt.asIntN(32, x)), true); break;
    case 'u64': v.setBigUint64(f.at, BigInt.asUintN(64, x), true); break;
    case 'f32': v.setFloat32(f.at, Number(BigInt.asIntN(32, x)), true); break;
  }
  return b;
}

function splice(b: Uint8Array, at: number, remove: number, insert: Uint8Array): Uint8Array {
  const out = new Uint8Array(b.length - remove + insert.length);
  out.set(b.subarray(0, at));
  out.set(insert, at);
  out.set(b.subarray(at + remove), at + insert.length);
  return out;
}

const fieldOf = (seed: FieldMap, i: number): Field | undefined => seed.fields[i % Math.max(1, seed.fields.length)];
const strOf = (seed: FieldMap, i: number): Str | undefined => seed.strings[i % Math.max(1, seed.strings.length)];
const position = (e: BinaryEdit, seed: FieldMap): number =>
  e.op === 'set' || e.op === 'nudge' ? fieldOf(seed, e.field)?.at ?? -1 : e.op === 'spell' ? strOf(seed, e.str)?.at ?? -1 : -1;

// Applies the edits to a copy of the seed. Field and string edits go last-in-file first, so
// that a respelled string (which moves what follows it) leaves earlier positions valid.
export function applyBinary(seed: BinarySeed, edits: readonly BinaryEdit[]): Uint8Array {
  let b: Uint8Array = seed.bytes.slice();
  const structured = edits.filter((e) => position(e, seed) >= 0).sort((x, y) => position(y, seed) - position(x, seed));
  for (const e of structured) {
    if (e.op === 'set' || e.op === 'nudge') {
      const f = fieldOf(seed, e.field);
      if (!f) continue;
      const old = readField(b, f);
      b = writeField(b, f, e.op === 'set' ? e.value : (e.double ? old * 2n : old) + BigInt(e.delta));
    } else if (e.op === 'spell') {
      const s = strOf(seed, e.str);
      if (!s || s.at + s.len > b.length) continue;
      const text = RAW_SPELLINGS[e.text];
      b = splice(b, s.at, s.len, text);
      if (s.lenField && s.lenField.at < s.at) b = writeField(b, s.lenField, BigInt(text.length));
    }
  }
  for (const e of edits) {
    const at = (x: number) => x % (b.length + 1);
    if (e.op === 'flip') { if (b.length) b[e.at % b.length] ^= e.xor; }
    else if (e.op === 'cut') b = b.slice(0, at(e.at));
    else if (e.op === 'del') b = splice(b, at(e.at), Math.min(e.len, b.length - at(e.at)), new Uint8Array(0));
    else if (e.op === 'copy') {
      const from = at(e.from), len = Math.min(e.len, b.length - from);
      b = splice(b, at(e.to), 0, b.slice(from, from + len));
    }
  }
  return b;
}

// ---- JSON trees -----------------------------------------------------------------------

export type JsonEdit =
  | { op: 'replace'; node: number; value: number }
  | { op: 'delete'; node: number }
  | { op: 'rename'; node: number; key: number }
  | { op: 'text'; at: number; cut: boolean; insert: number };

// Values that JSON readers trip on: wrong types, huge and fractional numbers, deep nesting.
export const JSON_VALUES: readonly (() => unknown)[] = [
  () => 0, () => -1, () => 1.5, () => 2 ** 31, () => 2 ** 53, () => 1e308, () => -1e308, () => 1e-320, () => '', () => 'x',
  () => '<0x-1>', () => 'F32', () => 'BF16', () => 'Q8_0', () => null, () => true, () => [], () => ({}), () => [1, 2],
  () => [0, 2 ** 40], () => ({ type: 'llama3', factor: 0 }), () => 'x'.repeat(100_000), () => Array.from({ length: 5000 }, (_, i) => i),
  () => JSON.parse('['.repeat(2000) + ']'.repeat(2000)), () => '../../x', () => 'model.safetensors', () => '__proto__',
];
const KEYS = ['', '__proto__', 'constructor', 'dtype', 'shape', 'data_offsets', 'weight_map', 'vocab', 'merges', 'type', 'x'];
const TEXT_INSERTS = ['', '{', '}', '[', ']', '"', ',', ':', '\\', '\u0000', 'NaN', '-', '1e999', '\ud800', '\n'];

export function jsonEdits(max = 4): fc.Arbitrary<JsonEdit[]> {
  const node = fc.nat(10_000);
  const edit: fc.Arbitrary<JsonEdit> = fc.oneof(
    { arbitrary: fc.record({ op: fc.constant('replace' as const), node, value: fc.nat(JSON_VALUES.length - 1) }), weight: 6 },
    { arbitrary: fc.record({ op: fc.constant('delete' as const), node }), weight: 2 },
    { arbitrary: fc.record({ op: fc.constant('rename' as const), node, key: fc.nat(KEYS.length - 1) }), weight: 1 },
    { arbitrary: fc.record({ op: fc.constant('text' as const), at: fc.nat(1_000_000), cut: fc.boolean(), insert: fc.nat(TEXT_INSERTS.length - 1) }), weight: 1 },
  );
  return fc.array(edit, { minLength: 1, maxLength: max });
}

interface Slot { parent: Record<string, unknown> | unknown[]; key: string | number }

// Every value of the tree but the root, parents before children (capped: huge vocabularies
// would otherwise make the list itself the cost).
function slots(root: unknown, cap = 20_000): Slot[] {
  const out: Slot[] = [];
  const walk = (v: unknown): void => {
    if (out.length >= cap || typeof v !== 'object' || v === null) return;
    const entries: [string | number, unknown][] = Array.isArray(v) ? v.map((x, i) => [i, x]) : Object.entries(v);
    for (const [k, x] of entries) { out.push({ parent: v as Slot['parent'], key: k }); walk(x); }
  };
  walk(root);
  return out;
}

// Applies tree edits to a deep copy of `seed`, then serializes it and applies text edits.
export function applyJson(seed: unknown, edits: readonly JsonEdit[]): string {
  const tree = structuredClone(seed);
  for (const e of edits) {
    if (e.op === 'text') continue;
    const all = slots(tree);
    if (!all.length) continue;
    const s = all[e.node % all.length];
    const parent = s.parent as Record<string | number, unknown>;
    if (e.op === 'replace') parent[s.key] = JSON_VALUES[e.value]();
    else if (e.op === 'delete') Array.isArray(parent) ? parent.splice(s.key as number, 1) : delete parent[s.key];
    else if (!Array.isArray(parent)) {
      const v = parent[s.key];
      delete parent[s.key];
      Object.defineProperty(parent, KEYS[e.key], { value: v, enumerable: true, configurable: true, writable: true });
    }
  }
  let text = JSON.stringify(tree);
  for (const e of edits) {
    if (e.op !== 'text') continue;
    const at = e.at % (text.length + 1);
    text = text.slice(0, at) + TEXT_INSERTS[e.insert] + text.slice(e.cut ? Math.min(text.length, at + 1 + (e.at % 7)) : at);
  }
  return text;
}

// ---- Text -----------------------------------------------------------------------------

export type TextPiece = { kind: 'plain'; text: string } | { kind: 'special'; i: number } | { kind: 'surrogate'; unit: number } | { kind: 'control'; code: number } | { kind: 'repeat'; text: string; times: number };

export const SPECIAL_TEXTS = ['<s>', '</s>', '<unk>', '<0x-1>', '<0x0A>', '<|eot_id|>', '<|begin_of_text|>', '\u2581', ' ', '  ', '\n', '\r\n', '\t', '\u00a0', '\u200b', '\ufeff', '\u{1F600}', '\u0301', 'e\u0301', '\u{10FFFF}', '{{', '}}', '{%', '%}', "{{ raise_exception('x') }}"];

// A text of pieces; 'repeat' makes the long ones (up to `maxLong` characters) without
// storing them in the recipe.
export function textPieces(maxPieces = 8, maxLong = 1 << 20): fc.Arbitrary<TextPiece[]> {
  const piece: fc.Arbitrary<TextPiece> = fc.oneof(
    { arbitrary: fc.record({ kind: fc.constant('plain' as const), text: fc.string({ unit: 'binary', maxLength: 24 }) }), weight: 6 },
    { arbitrary: fc.record({ kind: fc.constant('plain' as const), text: fc.string({ unit: 'grapheme-ascii', maxLength: 40 }) }), weight: 4 },
    { arbitrary: fc.record({ kind: fc.constant('special' as const), i: fc.nat(SPECIAL_TEXTS.length - 1) }), weight: 3 },
    { arbitrary: fc.record({ kind: fc.constant('surrogate' as const), unit: fc.integer({ min: 0xd800, max: 0xdfff }) }), weight: 2 },
    { arbitrary: fc.record({ kind: fc.constant('control' as const), code: fc.oneof(fc.integer({ min: 0, max: 0x1f }), fc.integer({ min: 0x7f, max: 0x9f })) }), weight: 2 },
    { arbitrary: fc.record({ kind: fc.constant('repeat' as const), text: fc.string({ minLength: 1, maxLength: 8 }), times: fc.oneof(fc.integer({ min: 2, max: 300 }), fc.constant(maxLong)) }), weight: 1 }, // up to maxLong characters
  );
  return fc.array(piece, { maxLength: maxPieces });
}

export function buildText(pieces: readonly TextPiece[], maxLong = 1 << 20): string {
  return pieces.map((p) => {
    switch (p.kind) {
      case 'plain': return p.text;
      case 'special': return SPECIAL_TEXTS[p.i];
      case 'surrogate': return String.fromCharCode(p.unit);
      case 'control': return String.fromCharCode(p.code);
      case 'repeat': return p.text.repeat(Math.max(1, Math.floor(Math.min(p.times * p.text.length, maxLong) / p.text.length)));
    }
  }).join('');
}
