// GGUF (ggml's model file format, versions 2 and 3, little-endian) read from memory.
//
// File layout (ggml docs/gguf.md):
//
//   magic        "GGUF"                       4 bytes
//   version      uint32                       2 or 3 (v1 used 32-bit counts and is refused)
//   n_tensors    uint64
//   n_kv         uint64
//   kv[n_kv]     key: string, type: uint32, value       (string = uint64 length + UTF-8)
//   info[n_tensors]  name: string, n_dims: uint32, dims: uint64[n_dims] (fastest first),
//                    type: uint32 (ggml type), offset: uint64 (from the data section start)
//   padding      to a multiple of `general.alignment` (default 32)
//   data         tensor bytes; each tensor's offset is a multiple of the alignment
//
// Every count or length read from the file is checked against the bytes that remain before
// anything is allocated by it, and every tensor is checked to lie inside the file.
import { BinaryReader } from './binary-reader.js';
import { ggmlByteLength, ggmlTypeName } from './ggml-types.js';
import {
  GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_VALUE_TYPES, alignUp,
  type GGUFFile, type GGUFScalarType, type GGUFTensorInfo, type GGUFTypeHint, type GGUFValue, type GGUFValueTypeName,
} from './gguf-spec.js';

export * from './gguf-spec.js';
export { writeGGUF, metadataEntries, defaultType, type GGUFMetadataEntry, type GGUFWriteInput, type GGUFWriteTensor } from './gguf-write.js';

const MAX_DIMS = 4;
const MAX_ARRAY_NESTING = 8; // deeper nesting is corruption, and would exhaust the stack

// The fewest bytes one value of each type occupies: what a count is checked against.
const MIN_VALUE_BYTES: Record<GGUFValueTypeName, number> = {
  u8: 1, i8: 1, u16: 2, i16: 2, u32: 4, i32: 4, f32: 4, bool: 1,
  string: 8, array: 12, u64: 8, i64: 8, f64: 8,
};
const MIN_KV_BYTES = 8 + 4 + 1; // empty key, type, smallest value
const MIN_TENSOR_INFO_BYTES = 8 + 4 + 4 + 8; // empty name, n_dims = 0, type, offset

export function parseGGUF(bytes: Uint8Array, fileName: string): GGUFFile {
  return { ...readGGUFHeader(new BinaryReader(bytes, fileName)), bytes };
}

// A GGUF file's header: everything but the tensor data.
export type GGUFHeader = Omit<GGUFFile, 'bytes'>;

// Reads the header (metadata and tensor infos) at the reader's start. The reader may hold
// only the file's first bytes, its `length` being the whole file's (load-header.ts): the
// tensors are checked against that length, and no tensor byte is read.
export function readGGUFHeader(r: BinaryReader): GGUFHeader {
  const version = readHeader(r);
  const nTensors = readCount(r, 'tensor count (n_tensors)', MIN_TENSOR_INFO_BYTES);
  const nKv = readCount(r, 'metadata kv count (n_kv)', MIN_KV_BYTES);
  const { metadata, types } = readMetadata(r, nKv);
  const alignment = readAlignment(r, metadata, types);
  const infos = readTensorInfos(r, nTensors);
  const dataOffset = alignUp(r.offset, alignment);
  const tensors = placeTensors(r, infos, dataOffset, alignment);
  return { version, metadata, types, tensors, alignment, dataOffset };
}

// The bytes of one tensor: a view into the file, never a copy.
export function ggufTensorBytes(file: GGUFFile, t: GGUFTensorInfo): Uint8Array {
  return file.bytes.subarray(t.offset, t.offset + t.byteLength);
}

export function findTensor(file: GGUFFile, name: string): GGUFTensorInfo | undefined {
  return file.tensors.find((t) => t.name === name);
}

function readHeader(r: BinaryReader): number {
  const magic = r.u32('GGUF magic');
  if (magic !== GGUF_MAGIC) r.fail(`not a GGUF file: magic is 0x${magic.toString(16).padStart(8, '0')}, expected "GGUF"`, 0);
  const version = r.u32('GGUF version');
  if (version === 1) r.fail('GGUF version 1 is not supported (32-bit counts); convert the file to v3', 4);
  if (version === 0x03000000 || version === 0x02000000) r.fail('big-endian GGUF files are not supported', 4);
  if (version !== 2 && version !== 3) r.fail(`unsupported GGUF version ${version} (expected 2 or 3)`, 4);
  return version;
}

// A uint64 count of items each at least `minItemBytes` long: refused if the items cannot
// all fit in what is left of the file, before anything is allocated for them.
function readCount(r: BinaryReader, what: string, minItemBytes: number): number {
  const at = r.offset;
  const n = r.u64(what);
  if (n * BigInt(minItemBytes) > BigInt(r.remaining)) {
    r.fail(`${what} ${n} is impossible: needs at least ${n * BigInt(minItemBytes)} bytes, ${r.remaining} left`, at);
  }
  return Number(n);
}

function readMetadata(r: BinaryReader, nKv: number) {
  const metadata: Record<string, GGUFValue> = Object.create(null);
  const types: Record<string, GGUFTypeHint> = Object.create(null);
  for (let i = 0; i < nKv; i++) {
    const at = r.offset;
    const key = r.string(`metadata key #${i}`);
    if (Object.hasOwn(metadata, key)) r.fail(`duplicate metadata key "${key}"`, at);
    const typeId = r.u32(`type of metadata "${key}"`);
    const [value, hint] = readValue(r, typeId, key, 0);
    metadata[key] = value;
    types[key] = hint;
  }
  return { metadata, types };
}

function valueTypeName(r: BinaryReader, typeId: number, key: string, at: number): GGUFValueTypeName {
  const name = GGUF_VALUE_TYPES[typeId];
  if (name === undefined) r.fail(`metadata "${key}": unknown value type ${typeId}`, at);
  return name;
}

function readValue(r: BinaryReader, typeId: number, key: string, depth: number): [GGUFValue, GGUFTypeHint] {
  const name = valueTypeName(r, typeId, key, r.offset - 4);
  if (name === 'array') return readArray(r, key, depth + 1);
  return [readScalar(r, name, key), name];
}

function readScalar(r: BinaryReader, type: GGUFScalarType, key: string): GGUFValue {
  const what = `metadata "${key}" (${type})`;
  switch (type) {
    case 'u8': return r.u8(what);
    case 'i8': return r.i8(what);
    case 'u16': return r.u16(what);
    case 'i16': return r.i16(what);
    case 'u32': return r.u32(what);
    case 'i32': return r.i32(what);
    case 'f32': return r.f32(what);
    case 'bool': return r.bool(what);
    case 'string': return r.string(what);
    case 'u64': return r.u64(what);
    case 'i64': return r.i64(what);
    case 'f64': return r.f64(what);
  }
}

// Array: element type uint32, length uint64, then the elements.
function readArray(r: BinaryReader, key: string, depth: number): [GGUFValue[], GGUFTypeHint] {
  if (depth > MAX_ARRAY_NESTING) r.fail(`metadata "${key}": arrays nested deeper than ${MAX_ARRAY_NESTING}`);
  const typeAt = r.offset;
  const elemId = r.u32(`metadata "${key}" array element type`);
  const elem = valueTypeName(r, elemId, key, typeAt);
  const n = readCount(r, `metadata "${key}" array length`, MIN_VALUE_BYTES[elem]);
  const out: GGUFValue[] = new Array(n);
  if (elem !== 'array') {
    for (let i = 0; i < n; i++) out[i] = readScalar(r, elem, key);
    return [out, `array:${elem}`];
  }
  let inner: GGUFTypeHint = 'array:u8';
  for (let i = 0; i < n; i++) {
    const [v, hint] = readArray(r, key, depth + 1);
    out[i] = v;
    if (i === 0) inner = hint;
  }
  return [out, `array:${inner}`];
}

// general.alignment, when present, must be a uint32 power of two.
function readAlignment(r: BinaryReader, metadata: Record<string, GGUFValue>, types: Record<string, GGUFTypeHint>): number {
  if (!Object.hasOwn(metadata, 'general.alignment')) return GGUF_DEFAULT_ALIGNMENT;
  const a = metadata['general.alignment'];
  if (types['general.alignment'] !== 'u32') {
    r.fail(`general.alignment must be a uint32, found ${types['general.alignment']}`);
  }
  const n = a as number;
  if (n === 0 || (n & (n - 1)) !== 0) r.fail(`general.alignment must be a power of two, got ${n}`);
  return n;
}

interface RawTensorInfo {
  name: string;
  dims: number[];
  type: number;
  relOffset: bigint;
  byteLength: bigint;
  at: number; // where the info record starts, for messages
}

function readTensorInfos(r: BinaryReader, n: number): RawTensorInfo[] {
  const infos: RawTensorInfo[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    const at = r.offset;
    const name = r.string(`tensor #${i} name`);
    if (seen.has(name)) r.fail(`duplicate tensor name "${name}"`, at);
    seen.add(name);
    const nDims = r.u32(`tensor "${name}" n_dims`);
    if (nDims > MAX_DIMS) r.fail(`tensor "${name}" has n_dims ${nDims}, at most ${MAX_DIMS} allowed`, r.offset - 4);
    const dims64: bigint[] = [];
    for (let d = 0; d < nDims; d++) {
      const v = r.u64(`tensor "${name}" dims[${d}]`);
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) r.fail(`tensor "${name}" dims[${d}] = ${v} is too large`, r.offset - 8);
      dims64.push(v);
    }
    const type = r.u32(`tensor "${name}" type`);
    const relOffset = r.u64(`tensor "${name}" offset`);
    const byteLength = ggmlByteLength(type, dims64);
    if (typeof byteLength === 'string') r.fail(`tensor "${name}": ${byteLength}`, at);
    infos.push({ name, dims: dims64.map(Number), type, relOffset, byteLength, at });
  }
  return infos;
}

// Turns data-section offsets into absolute ones and checks each tensor lies in the file.
function placeTensors(r: BinaryReader, infos: RawTensorInfo[], dataOffset: number, alignment: number): GGUFTensorInfo[] {
  const fileLength = BigInt(r.length);
  return infos.map((t) => {
    const typeName = ggmlTypeName(t.type);
    if (t.relOffset % BigInt(alignment) !== 0n) {
      r.fail(`tensor "${t.name}" offset ${t.relOffset} is not a multiple of the alignment ${alignment}`, t.at);
    }
    const start = BigInt(dataOffset) + t.relOffset;
    const end = start + t.byteLength;
    if (end > fileLength) {
      r.fail(
        `tensor "${t.name}" (${typeName} [${t.dims.join(', ')}]) at bytes ${start}..${end} runs past the end of the file (${r.length} bytes)`,
        t.at,
      );
    }
    return { name: t.name, dims: t.dims, type: t.type, offset: Number(start), byteLength: Number(t.byteLength) };
  });
}
