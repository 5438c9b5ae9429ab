// Writes GGUF v3 files: the inverse of parseGGUF, used by tests (small and deliberately
// broken files) and by conversion and quantization.
//
// Layout written: header, metadata, tensor infos, zero padding to the alignment, then each
// tensor's data at the next multiple of the alignment. No padding follows the last tensor,
// so every strict prefix of a file with tensors is a truncated file.
import { BinaryWriter } from './binary-writer.js';
import { ggmlByteLength } from './ggml-types.js';
import {
  GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_VALUE_TYPES, alignUp,
  type GGUFFile, type GGUFScalarType, type GGUFTypeHint, type GGUFValue, type GGUFValueTypeName,
} from './gguf-spec.js';

export type GGUFMetadataEntry = [key: string, value: GGUFValue, type?: GGUFTypeHint];

export interface GGUFWriteTensor {
  name: string;
  dims: number[]; // ggml order: dims[0] is the number of columns
  type: number; // ggml type id
  data: Uint8Array; // exactly the tensor's bytes in that type
}

export interface GGUFWriteInput {
  metadata: GGUFMetadataEntry[];
  tensors: GGUFWriteTensor[];
  alignment?: number; // default: general.alignment from the metadata, else 32
}

const INT_RANGE: Partial<Record<GGUFScalarType, [number, number]>> = {
  u8: [0, 0xff], i8: [-0x80, 0x7f], u16: [0, 0xffff], i16: [-0x8000, 0x7fff],
  u32: [0, 0xffffffff], i32: [-0x80000000, 0x7fffffff],
};
const INT64_RANGE: Record<'u64' | 'i64', [bigint, bigint]> = {
  u64: [0n, 2n ** 64n - 1n], i64: [-(2n ** 63n), 2n ** 63n - 1n],
};

export function writeGGUF(file: GGUFWriteInput): Uint8Array {
  const [metadata, alignment] = resolveAlignment(file.metadata, file.alignment);
  const offsets = layoutTensors(file.tensors, alignment);
  const dataBytes = file.tensors.length ? offsets[offsets.length - 1] + file.tensors[file.tensors.length - 1].data.length : 0;
  const w = new BinaryWriter(dataBytes + 4096);

  w.u32(GGUF_MAGIC);
  w.u32(3);
  w.u64(file.tensors.length);
  w.u64(metadata.length);
  const seen = new Set<string>();
  for (const [key, value, hint] of metadata) {
    if (seen.has(key)) throw new Error(`writeGGUF: duplicate metadata key "${key}"`);
    seen.add(key);
    writeKv(w, key, value, hint ?? defaultType(value, key));
  }
  file.tensors.forEach((t, i) => {
    w.string(t.name);
    w.u32(t.dims.length);
    for (const d of t.dims) w.u64(d);
    w.u32(t.type);
    w.u64(offsets[i]);
  });
  if (file.tensors.length) w.padTo(alignment);
  const dataStart = w.length;
  file.tensors.forEach((t, i) => {
    w.padTo(alignment);
    if (w.length - dataStart !== offsets[i]) throw new Error('writeGGUF: internal layout error');
    w.bytes(t.data);
  });
  return w.finish();
}

// Metadata as writeGGUF takes it, with the stored types: read → write keeps the file's types.
export function metadataEntries(file: GGUFFile): GGUFMetadataEntry[] {
  return Object.keys(file.metadata).map((k) => [k, file.metadata[k], file.types[k]]);
}

// The alignment comes from the option or else from general.alignment (default 32); a
// non-default one must be recorded in the file as general.alignment (uint32).
function resolveAlignment(metadata: GGUFMetadataEntry[], option: number | undefined): [GGUFMetadataEntry[], number] {
  const entry = metadata.find(([k]) => k === 'general.alignment');
  const alignment = option ?? (entry ? entry[1] : GGUF_DEFAULT_ALIGNMENT);
  if (typeof alignment !== 'number' || !Number.isInteger(alignment) || alignment <= 0 || alignment > 0x80000000 ||
      (alignment & (alignment - 1)) !== 0) {
    throw new Error(`writeGGUF: alignment must be a power of two, got ${String(alignment)}`);
  }
  if (entry && entry[1] !== alignment) throw new Error(`writeGGUF: general.alignment ${String(entry[1])} differs from alignment ${alignment}`);
  if (entry && (entry[2] ?? 'u32') !== 'u32') throw new Error('writeGGUF: general.alignment must be stored as u32');
  if (entry || alignment === GGUF_DEFAULT_ALIGNMENT) return [metadata, alignment];
  return [[...metadata, ['general.alignment', alignment, 'u32']], alignment];
}

// Data-section offsets of each tensor, checking names, dims and byte sizes.
function layoutTensors(tensors: GGUFWriteTensor[], alignment: number): number[] {
  const names = new Set<string>();
  const offsets: number[] = [];
  let at = 0;
  for (const t of tensors) {
    if (names.has(t.name)) throw new Error(`writeGGUF: duplicate tensor name "${t.name}"`);
    names.add(t.name);
    if (t.dims.length > 4) throw new Error(`writeGGUF: tensor "${t.name}" has ${t.dims.length} dims, at most 4`);
    if (t.dims.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new Error(`writeGGUF: tensor "${t.name}" has bad dims [${t.dims}]`);
    const expected = ggmlByteLength(t.type, t.dims.map(BigInt));
    if (typeof expected === 'string') throw new Error(`writeGGUF: tensor "${t.name}": ${expected}`);
    if (BigInt(t.data.length) !== expected) {
      throw new Error(`writeGGUF: tensor "${t.name}" has ${t.data.length} bytes, its type and dims need ${expected}`);
    }
    at = alignUp(at, alignment);
    offsets.push(at);
    at += t.data.length;
  }
  return offsets;
}

// The type a value gets when no hint is given: what llama.cpp writes for such values.
export function defaultType(value: GGUFValue, key: string): GGUFTypeHint {
  if (typeof value === 'string') return 'string';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'bigint') return value < 0n ? 'i64' : 'u64';
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) return 'f32';
    if (value >= 0 && value <= 0xffffffff) return 'u32';
    if (value >= -0x80000000 && value < 0) return 'i32';
    return value < 0 ? 'i64' : 'u64';
  }
  if (value.length === 0) return 'array:i32';
  if (value.every((v) => typeof v === 'number')) {
    return (value as number[]).every(Number.isInteger) ? 'array:i32' : 'array:f32';
  }
  return `array:${defaultType(value[0], key)}`;
}

function typeId(name: GGUFValueTypeName): number {
  return GGUF_VALUE_TYPES.indexOf(name);
}

// Splits 'array:array:f32' into the outer type name and the element hint.
function splitHint(hint: GGUFTypeHint, key: string): [GGUFValueTypeName, GGUFTypeHint | undefined] {
  if (hint.startsWith('array:')) return ['array', hint.slice('array:'.length) as GGUFTypeHint];
  if (hint !== ('array' as string) && (GGUF_VALUE_TYPES as readonly string[]).includes(hint)) return [hint as GGUFScalarType, undefined];
  throw new Error(`writeGGUF: metadata "${key}" has unknown type "${hint}"`);
}

function writeKv(w: BinaryWriter, key: string, value: GGUFValue, hint: GGUFTypeHint): void {
  const [name] = splitHint(hint, key);
  w.string(key);
  w.u32(typeId(name));
  writePayload(w, key, value, hint);
}

function writePayload(w: BinaryWriter, key: string, value: GGUFValue, hint: GGUFTypeHint): void {
  const [name, elem] = splitHint(hint, key);
  if (name !== 'array') {
    writeScalar(w, key, value, name);
    return;
  }
  if (!Array.isArray(value)) throw new Error(`writeGGUF: metadata "${key}" is typed ${hint} but is not an array`);
  const [elemName] = splitHint(elem!, key);
  w.u32(typeId(elemName));
  w.u64(value.length);
  for (const v of value) writePayload(w, key, v, elem!);
}

function writeScalar(w: BinaryWriter, key: string, v: GGUFValue, type: GGUFScalarType): void {
  const bad = (): never => {
    throw new Error(`writeGGUF: metadata "${key}" value ${String(v)} does not fit type ${type}`);
  };
  if (type === 'string') return typeof v === 'string' ? w.string(v) : bad();
  if (type === 'bool') return typeof v === 'boolean' ? w.bool(v) : bad();
  if (type === 'f32' || type === 'f64') {
    if (typeof v !== 'number') bad();
    return type === 'f32' ? w.f32(v as number) : w.f64(v as number);
  }
  if (type === 'u64' || type === 'i64') {
    if (typeof v !== 'bigint' && !(typeof v === 'number' && Number.isSafeInteger(v))) bad();
    const b = BigInt(v as number | bigint);
    const [lo, hi] = INT64_RANGE[type];
    if (b < lo || b > hi) bad();
    return type === 'u64' ? w.u64(b) : w.i64(b);
  }
  const [lo, hi] = INT_RANGE[type]!;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) bad();
  const n = v as number;
  if (type === 'u8') w.u8(n);
  else if (type === 'i8') w.i8(n);
  else if (type === 'u16') w.u16(n);
  else if (type === 'i16') w.i16(n);
  else if (type === 'u32') w.u32(n);
  else w.i32(n);
}
