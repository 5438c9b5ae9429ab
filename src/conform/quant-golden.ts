// golden/quant/blocks.safetensors: random blocks of each block type and the values they
// decode to (golden/FORMAT.md, "Quantization cases"), and conform's check of a decoder
// against them. The values are exact: ggml defines each decode in float32, one rounding
// per operation, so a decoder that follows its order gives the same numbers.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BLOCK_BYTES, BLOCK_VALUES, isDType, toF32, type DType } from '../../reference/tensor.js';
import { readFileBytes } from '../io/read-file.js';
import { parseSafetensors, type SafeTensor } from '../formats/safetensors.js';
import type { TensorComparison } from './compare.js';
import type { ConformReport } from './conform.js';

// One type's entry in manifest.json's quant_blocks.types
export interface QuantBlockSpec {
  type: string; // GGUF's name: Q4_0, Q4_K, ...
  block_values: number;
  block_bytes: number;
  rows: number;
  cols: number;
  blocks: string; // tensor names in the file
  values: string;
}

export interface QuantBlocksSpec {
  file: string; // relative to golden/
  types: QuantBlockSpec[];
}

export interface QuantBlockSet {
  type: string;
  dtype: DType; // llama-ts's name of the type
  blockValues: number;
  blockBytes: number;
  rows: number;
  cols: number;
  blocks: Uint8Array; // [rows, cols / blockValues · blockBytes]
  values: Float32Array; // [rows, cols]
}

export const QUANT_BLOCKS_CASE = 'quant-blocks';

export function quantBlocksSpec(goldenDir: string): QuantBlocksSpec {
  const path = join(goldenDir, 'manifest.json');
  const spec = JSON.parse(readFileSync(path, 'utf8')).quant_blocks;
  if (!spec || typeof spec.file !== 'string' || !Array.isArray(spec.types)) throw new Error(`${path}: no "quant_blocks" with "file" and "types"`);
  return spec;
}

export function readQuantBlocks(goldenDir: string, spec: QuantBlocksSpec = quantBlocksSpec(goldenDir)): QuantBlockSet[] {
  const path = join(goldenDir, spec.file);
  const file = parseSafetensors(readFileBytes(path), path);
  return spec.types.map((t) => {
    const dtype = t.type.toLowerCase();
    if (!isDType(dtype) || dtype === 'f32' || dtype === 'f16') throw new Error(`${path}: ${t.type} is not a block type llama-ts knows`);
    if (BLOCK_VALUES[dtype] !== t.block_values || BLOCK_BYTES[dtype] !== t.block_bytes) {
      throw new Error(`${path}: ${t.type} blocks of ${t.block_values} values in ${t.block_bytes} bytes, llama-ts has ${BLOCK_VALUES[dtype]} in ${BLOCK_BYTES[dtype]}`);
    }
    const rowBytes = (t.cols / t.block_values) * t.block_bytes;
    const blocks = tensorOf(file.tensors, t.blocks, 'U8', [t.rows, rowBytes], path);
    const values = tensorOf(file.tensors, t.values, 'F32', [t.rows, t.cols], path);
    return {
      type: t.type, dtype, blockValues: t.block_values, blockBytes: t.block_bytes, rows: t.rows, cols: t.cols,
      blocks: blocks.bytes.slice(), // a copy: aligned, and owned by the caller
      values: new Float32Array(values.bytes.slice().buffer),
    };
  });
}

function tensorOf(tensors: Map<string, SafeTensor>, name: string, dtype: string, shape: number[], path: string): SafeTensor {
  const t = tensors.get(name);
  if (!t) throw new Error(`${path}: no tensor "${name}"`);
  if (t.dtype !== dtype || t.shape.join() !== shape.join()) {
    throw new Error(`${path}: ${name} is ${t.dtype} [${t.shape}], the manifest says ${dtype} [${shape}]`);
  }
  return t;
}

// The decoded values of each type against the golden ones: `decoded` maps "<TYPE>.values" to a
// port's [rows, cols] values. Exact comparison (±0 alike); a missing type fails.
export function conformQuantBlocks(sets: QuantBlockSet[], decoded: ReadonlyMap<string, ArrayLike<number>>): ConformReport {
  const compared: TensorComparison[] = sets.map((s) => compareValues(s, decoded.get(`${s.type}.values`)));
  const first = compared.find((c) => !c.ok);
  return {
    case: QUANT_BLOCKS_CASE, ok: !first, compared, firstFailure: first ? first.name : null,
    firstAboveNoise: first ? { name: first.name, times: Infinity } : null,
    checked: [], notChecked: [], missing: compared.filter((c) => c.problem === 'missing').map((c) => c.name), unknown: [], unchecked: [],
  };
}

function compareValues(s: QuantBlockSet, got: ArrayLike<number> | undefined): TensorComparison {
  const name = `${s.type}.values`;
  const base = { name, kind: 'dequantized', shape: [s.rows, s.cols], outliers: 0, allowedOutliers: 0 };
  if (!got || got.length !== s.values.length) {
    return { ...base, maxAbsError: Infinity, maxRelError: Infinity, usage: Infinity, worstIndex: -1, ok: false, problem: got ? `${got.length} values, golden has ${s.values.length}` : 'missing' };
  }
  let maxAbs = 0, maxRel = 0, worst = -1, wrong = 0;
  for (let i = 0; i < s.values.length; i++) {
    const err = Math.abs(got[i] - s.values[i]);
    if (!(err === 0)) {
      wrong++;
      if (!(err <= maxAbs)) { maxAbs = err; worst = i; }
      maxRel = Math.max(maxRel, err / Math.abs(s.values[i]));
    }
  }
  const at = worst < 0 ? '' : `[row=${Math.floor(worst / s.cols)}, col=${worst % s.cols}] (block ${Math.floor((worst % s.cols) / s.blockValues)} of the row)`;
  return {
    ...base, maxAbsError: maxAbs, maxRelError: maxRel, usage: wrong ? Infinity : 0, worstIndex: worst, ok: wrong === 0,
    ...(wrong ? { worstAt: at, problem: `${wrong} values differ; first worst at ${at}: ${got[worst]} vs ${s.values[worst]}` } : {}),
  };
}

// llama-ts's own decoders (reference/quants-*.ts, the readable truth its kernels are tested against).
export function decodeQuantBlocksSelf(sets: QuantBlockSet[]): Map<string, Float32Array> {
  return new Map(sets.map((s) => [`${s.type}.values`, toF32({ dtype: s.dtype, rows: s.rows, cols: s.cols, data: s.blocks })]));
}
