// The GGUF format's shared vocabulary: value types, the parsed-file shape and constants,
// used by both the reader (gguf.ts) and the writer (gguf-write.ts).

export type GGUFValue = number | bigint | boolean | string | GGUFValue[];

// How a value is stored: a scalar type, or `array:<element type>` (nesting allowed).
export type GGUFScalarType = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'bool' | 'string' | 'u64' | 'i64' | 'f64';
export type GGUFTypeHint = GGUFScalarType | `array:${string}`;

export interface GGUFTensorInfo {
  name: string;
  dims: number[]; // ggml order: dims[0] is the fastest-varying (columns)
  type: number; // ggml type id
  offset: number; // absolute byte offset in the file
  byteLength: number;
}

export interface GGUFFile {
  version: number;
  metadata: Record<string, GGUFValue>; // no prototype: any key a file holds is a plain own key
  types: Record<string, GGUFTypeHint>; // the stored type of each metadata value
  tensors: GGUFTensorInfo[];
  alignment: number;
  dataOffset: number; // absolute start of the tensor data section
  bytes: Uint8Array; // the whole file; tensor data are views into it
}

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian uint32
export const GGUF_DEFAULT_ALIGNMENT = 32;

// GGUF value type ids, in order.
export const GGUF_VALUE_TYPES = ['u8', 'i8', 'u16', 'i16', 'u32', 'i32', 'f32', 'bool', 'string', 'array', 'u64', 'i64', 'f64'] as const;
export type GGUFValueTypeName = (typeof GGUF_VALUE_TYPES)[number];

// The next multiple of `alignment` at or after n.
export function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}
