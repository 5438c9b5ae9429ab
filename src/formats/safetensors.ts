// safetensors (Hugging Face's tensor file format), read and written:
//
//   u64 N (little-endian) | N bytes of JSON header | tensor data
//   header: { "<name>": { "dtype": "F32", "shape": [..], "data_offsets": [begin, end] }, ...,
//             "__metadata__": { "<key>": "<string>" } }      offsets relative to the data start
//
// Used by golden/ (vectors for ports), `llama-ts dump`/`conform`, and Hugging Face checkpoints.
import { BinaryReader } from './binary-reader.js';

export type SafetensorsDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

const DTYPE_BYTES: Record<SafetensorsDType, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

export interface SafeTensor {
  dtype: SafetensorsDType;
  shape: number[];
  bytes: Uint8Array; // raw little-endian data, a view into the file
}

export interface SafetensorsFile {
  tensors: Map<string, SafeTensor>; // in file order
  metadata: Record<string, string>;
}

// The largest header we accept: real headers are kilobytes; this stops a corrupt length
// from making us decode gigabytes of "JSON".
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export function parseSafetensors(bytes: Uint8Array, fileName: string): SafetensorsFile {
  const r = new BinaryReader(bytes, fileName);
  const headerLength = r.u64('header length');
  if (headerLength > BigInt(MAX_HEADER_BYTES)) r.fail(`header length ${headerLength} is larger than ${MAX_HEADER_BYTES} bytes`, 0);
  const headerBytes = r.slice(Number(headerLength), 'JSON header');
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (e) {
    throw new Error(`${fileName}: the header at offset 8 is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new Error(`${fileName}: the header is not a JSON object`);
  const dataStart = 8 + Number(headerLength);
  const dataLength = bytes.length - dataStart;
  const tensors = new Map<string, SafeTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = parseMetadata(info, fileName);
      continue;
    }
    tensors.set(name, parseTensorInfo(name, info, fileName, bytes, dataStart, dataLength));
  }
  return { tensors, metadata };
}

function parseMetadata(info: unknown, fileName: string): Record<string, string> {
  if (typeof info !== 'object' || info === null || Array.isArray(info)) throw new Error(`${fileName}: __metadata__ is not an object`);
  for (const [k, v] of Object.entries(info)) {
    if (typeof v !== 'string') throw new Error(`${fileName}: __metadata__.${k} is not a string`);
  }
  return info as Record<string, string>;
}

function parseTensorInfo(name: string, info: unknown, fileName: string, bytes: Uint8Array, dataStart: number, dataLength: number): SafeTensor {
  const where = `${fileName}: tensor "${name}"`;
  if (typeof info !== 'object' || info === null) throw new Error(`${where}: entry is not an object`);
  const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
  if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) throw new Error(`${where}: unsupported dtype ${JSON.stringify(dtype)}`);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new Error(`${where}: shape must be a list of non-negative integers`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
    throw new Error(`${where}: data_offsets must be [begin, end]`);
  }
  const [begin, end] = offsets as number[];
  if (begin > end || end > dataLength) {
    throw new Error(`${where}: data_offsets [${begin}, ${end}] run past the end of the data (${dataLength} bytes after the header)`);
  }
  const count = (shape as number[]).reduce((a, b) => a * b, 1);
  const expected = count * DTYPE_BYTES[dtype as SafetensorsDType];
  if (end - begin !== expected) {
    throw new Error(`${where}: shape [${shape.join(', ')}] of ${dtype} needs ${expected} bytes, data_offsets give ${end - begin}`);
  }
  return { dtype: dtype as SafetensorsDType, shape: shape as number[], bytes: bytes.subarray(dataStart + begin, dataStart + end) };
}

// Any numeric tensor as float64 values (golden truth is compared in float64).
export function tensorToFloat64(t: SafeTensor): Float64Array {
  const n = t.bytes.length / DTYPE_BYTES[t.dtype];
  const dv = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = readElement(dv, t.dtype, i);
  return out;
}

function readElement(dv: DataView, dtype: SafetensorsDType, i: number): number {
  switch (dtype) {
    case 'F64': return dv.getFloat64(8 * i, true);
    case 'F32': return dv.getFloat32(4 * i, true);
    case 'F16': return halfToFloat(dv.getUint16(2 * i, true));
    case 'BF16': return new Float32Array(new Uint32Array([dv.getUint16(2 * i, true) << 16]).buffer)[0];
    case 'I64': return Number(dv.getBigInt64(8 * i, true));
    case 'I32': return dv.getInt32(4 * i, true);
    case 'I16': return dv.getInt16(2 * i, true);
    case 'I8': return dv.getInt8(i);
    case 'U8': case 'BOOL': return dv.getUint8(i);
  }
}

function halfToFloat(h: number): number {
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  const sign = h & 0x8000 ? -1 : 1;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

export interface TensorToWrite {
  dtype: SafetensorsDType;
  shape: number[];
  data: Float32Array | Float64Array | Int32Array | Uint16Array | Uint8Array | BigInt64Array;
}

// Writes tensors in the order given, 8-byte aligned data, metadata as strings.
export function writeSafetensors(tensors: Array<[string, TensorToWrite]>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  const chunks: Uint8Array[] = [];
  for (const [name, t] of tensors) {
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count * DTYPE_BYTES[t.dtype] !== bytes.length) throw new Error(`writeSafetensors: "${name}" has ${bytes.length} bytes for shape [${t.shape}] of ${t.dtype}`);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    chunks.push(bytes);
    offset += bytes.length;
  }
  const json = JSON.stringify(header);
  const jsonLength = new TextEncoder().encode(json).length;
  const jsonBytes = new TextEncoder().encode(json + ' '.repeat((8 - (jsonLength % 8)) % 8)); // data starts 8-aligned
  const out = new Uint8Array(8 + jsonBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(jsonBytes.length), true);
  out.set(jsonBytes, 8);
  let at = 8 + jsonBytes.length;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
