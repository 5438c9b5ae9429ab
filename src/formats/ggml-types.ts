// ggml tensor storage types as GGUF numbers them (ggml.h `enum ggml_type`).
//
// Every type ggml can write to a GGUF file is listed, so that the header of any GGUF file
// parses and every tensor's byte length can be checked against the file size. The types
// with a DType below are readable as weights (reference/tensor.ts decodes them); the
// others are refused, naming the tensor, when a tensor of that type is actually used.
//
//   blockSize  values per block (1 for plain types, 32 or 256 for quantized ones)
//   typeSize   bytes per block
import type { DType } from '../../reference/tensor.js';

export interface GGMLType {
  name: string;
  blockSize: number;
  typeSize: number;
}

export const GGML_F32 = 0;
export const GGML_F16 = 1;
export const GGML_Q4_0 = 2;
export const GGML_Q8_0 = 8;

// Ids 4, 5, 31-33 and 36-38 were removed from ggml and never appear in valid files.
const TYPES: Record<number, GGMLType> = {
  0: { name: 'F32', blockSize: 1, typeSize: 4 },
  1: { name: 'F16', blockSize: 1, typeSize: 2 },
  2: { name: 'Q4_0', blockSize: 32, typeSize: 18 },
  3: { name: 'Q4_1', blockSize: 32, typeSize: 20 },
  6: { name: 'Q5_0', blockSize: 32, typeSize: 22 },
  7: { name: 'Q5_1', blockSize: 32, typeSize: 24 },
  8: { name: 'Q8_0', blockSize: 32, typeSize: 34 },
  9: { name: 'Q8_1', blockSize: 32, typeSize: 36 },
  10: { name: 'Q2_K', blockSize: 256, typeSize: 84 },
  11: { name: 'Q3_K', blockSize: 256, typeSize: 110 },
  12: { name: 'Q4_K', blockSize: 256, typeSize: 144 },
  13: { name: 'Q5_K', blockSize: 256, typeSize: 176 },
  14: { name: 'Q6_K', blockSize: 256, typeSize: 210 },
  15: { name: 'Q8_K', blockSize: 256, typeSize: 292 },
  16: { name: 'IQ2_XXS', blockSize: 256, typeSize: 66 },
  17: { name: 'IQ2_XS', blockSize: 256, typeSize: 74 },
  18: { name: 'IQ3_XXS', blockSize: 256, typeSize: 98 },
  19: { name: 'IQ1_S', blockSize: 256, typeSize: 50 },
  20: { name: 'IQ4_NL', blockSize: 32, typeSize: 18 },
  21: { name: 'IQ3_S', blockSize: 256, typeSize: 110 },
  22: { name: 'IQ2_S', blockSize: 256, typeSize: 82 },
  23: { name: 'IQ4_XS', blockSize: 256, typeSize: 136 },
  24: { name: 'I8', blockSize: 1, typeSize: 1 },
  25: { name: 'I16', blockSize: 1, typeSize: 2 },
  26: { name: 'I32', blockSize: 1, typeSize: 4 },
  27: { name: 'I64', blockSize: 1, typeSize: 8 },
  28: { name: 'F64', blockSize: 1, typeSize: 8 },
  29: { name: 'IQ1_M', blockSize: 256, typeSize: 56 },
  30: { name: 'BF16', blockSize: 1, typeSize: 2 },
  34: { name: 'TQ1_0', blockSize: 256, typeSize: 54 },
  35: { name: 'TQ2_0', blockSize: 256, typeSize: 66 },
  39: { name: 'MXFP4', blockSize: 32, typeSize: 17 },
};

export function ggmlType(id: number): GGMLType | undefined {
  return Object.hasOwn(TYPES, id) ? TYPES[id] : undefined;
}

export function ggmlTypeName(id: number): string {
  return ggmlType(id)?.name ?? `unknown`;
}

// The weight storage types this project computes with, and their ggml ids.
const DTYPE_OF_ID: Record<number, DType> = {
  0: 'f32', 1: 'f16', 2: 'q4_0', 3: 'q4_1', 6: 'q5_0', 7: 'q5_1', 8: 'q8_0',
  10: 'q2_k', 11: 'q3_k', 12: 'q4_k', 13: 'q5_k', 14: 'q6_k', 15: 'q8_k', 20: 'iq4_nl',
};
const ID_OF_DTYPE = Object.fromEntries(Object.entries(DTYPE_OF_ID).map(([id, d]) => [d, Number(id)])) as Record<DType, number>;

// "F32 (0), F16 (1), ...": the types a weight matrix may have, for error messages.
export function readableGGMLTypes(): string {
  return Object.keys(DTYPE_OF_ID).map((id) => `${ggmlTypeName(Number(id))} (${id})`).join(', ');
}

export function dtypeOfGGML(id: number): DType | undefined {
  return Object.hasOwn(DTYPE_OF_ID, id) ? DTYPE_OF_ID[id] : undefined;
}

export function ggmlOfDType(dtype: DType): number {
  return ID_OF_DTYPE[dtype];
}

// Bytes a tensor of this type and shape occupies, or a reason it cannot exist.
// dims are in ggml order (dims[0] varies fastest) and every row must be whole blocks.
// Computed in bigint so that a corrupt 2^63-sized dimension cannot lose precision.
export function ggmlByteLength(id: number, dims: readonly bigint[]): bigint | string {
  const t = ggmlType(id);
  if (!t) return `unknown ggml type ${id}`;
  let count = 1n;
  for (const d of dims) count *= d;
  const blocksPerRow = BigInt(t.blockSize);
  if (dims.length > 0 && dims[0] % blocksPerRow !== 0n) {
    return `${t.name} rows need a multiple of ${t.blockSize} values, dims[0] is ${dims[0]}`;
  }
  return (count / blocksPerRow) * BigInt(t.typeSize);
}
