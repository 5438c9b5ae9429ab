// Reading golden/: the manifest, its cases, and a case's model (see golden/FORMAT.md).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { headDim, validateConfig, type LlamaConfig } from '../../reference/config.js';
import { f32Tensor, isDType, rowBytes, type QuantizedDType, type WeightTensor } from '../../reference/tensor.js';
import { assembleWeights, parameterNames, type LlamaModel, type ParameterSlot } from '../../reference/weights.js';
import { ropeScalingFactors } from '../formats/huggingface.js';
import { loadModel } from '../formats/load-file.js';
import { readFileBytes } from '../io/read-file.js';
import { parseSafetensors, tensorToFloat64, type SafetensorsFile } from '../formats/safetensors.js';

export interface Tolerance {
  kind: string;
  pattern: string;
  atol: number;
  rtol: number;
  outlier_fraction?: number;
  outlier_atol?: number;
}

export interface GoldenCase {
  name: string;
  description: string;
  config: Record<string, number | boolean>;
  // blocks: every matrix stored as U8 rows of blocks of that type (GGUF's name, e.g. "Q4_0"); gains F32
  weights: { file: string; blocks?: string } | { external: { path: string; sha256: string } };
  expected: string;
  tokens: number[];
  targets: number[];
  tensors: string[]; // names in data-flow order
  adamw?: { lr: number; steps: number; saved_steps: number[] }; // absent where the case has no optimizer vectors
  rows_from?: number; // > 0: the [T, ·] tensors hold only the rows of positions rows_from..T-1 (long-positions)
}

export interface GoldenManifest {
  root: string; // the golden/ folder the manifest is in
  tolerances: Tolerance[];
  cases: GoldenCase[];
}

// golden/ beside the package: two levels up from src/conform/ or one from dist/.
export function defaultGoldenDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const up of ['../../golden', '../golden']) {
    const dir = resolve(here, up);
    if (existsSync(join(dir, 'manifest.json'))) return dir;
  }
  throw new Error(`cannot find golden/manifest.json near ${here}`);
}

export function readManifest(goldenDir = defaultGoldenDir()): GoldenManifest {
  const path = join(goldenDir, 'manifest.json');
  const json = JSON.parse(readFileSync(path, 'utf8'));
  if (!Array.isArray(json.tolerances) || !Array.isArray(json.cases)) throw new Error(`${path}: expected "tolerances" and "cases" lists`);
  return { root: goldenDir, tolerances: json.tolerances, cases: json.cases };
}

// A case by name, or by a path to its folder or its expected.safetensors.
export function findCase(spec: string): { manifest: GoldenManifest; goldenCase: GoldenCase } {
  let goldenDir = defaultGoldenDirOrNull();
  let name = spec;
  if (spec.includes('/') || existsSync(spec)) {
    let dir = resolve(spec.endsWith('.safetensors') ? dirname(spec) : spec);
    name = dir.split('/').pop()!;
    while (dir !== dirname(dir) && !existsSync(join(dir, 'manifest.json'))) dir = dirname(dir);
    if (!existsSync(join(dir, 'manifest.json'))) throw new Error(`${spec}: no golden manifest.json in any folder above it`);
    goldenDir = dir;
  }
  if (!goldenDir) throw new Error(`cannot find golden/manifest.json for case "${spec}"`);
  const manifest = readManifest(goldenDir);
  const goldenCase = manifest.cases.find((c) => c.name === name);
  if (!goldenCase) throw new Error(`no golden case "${name}" in ${goldenDir}/manifest.json (cases: ${manifest.cases.map((c) => c.name).join(', ')})`);
  return { manifest, goldenCase };
}

function defaultGoldenDirOrNull(): string | null {
  try {
    return defaultGoldenDir();
  } catch {
    return null;
  }
}

export function caseConfig(c: GoldenCase): LlamaConfig {
  const k = c.config;
  const config: LlamaConfig = {
    dim: k.dim as number, nLayers: k.n_layers as number, nHeads: k.n_heads as number, nKvHeads: k.n_kv_heads as number,
    hiddenDim: k.hidden_dim as number, vocabSize: k.vocab_size as number, maxSeqLen: k.max_seq_len as number,
    normEps: k.norm_eps as number, ropeTheta: k.rope_theta as number, sharedClassifier: k.shared_classifier as boolean,
  };
  const where = `golden case ${c.name} config`;
  validateConfig(config, where);
  // rope_scaling: Hugging Face's object (golden/FORMAT.md), read as config.json's is
  const ropeFreqFactors = ropeScalingFactors(k, headDim(config), config.ropeTheta, where);
  if (ropeFreqFactors) config.ropeFreqFactors = ropeFreqFactors;
  return config;
}

export function readExpected(manifest: GoldenManifest, c: GoldenCase): SafetensorsFile {
  const path = join(manifest.root, c.expected);
  return parseSafetensors(readFileBytes(path), path);
}

// The case's model: its weights.safetensors (Meta's parameter names), or the external file it names.
export function caseModel(manifest: GoldenManifest, c: GoldenCase): LlamaModel {
  const config = caseConfig(c);
  if ('external' in c.weights) {
    const path = isAbsolute(c.weights.external.path) ? c.weights.external.path : resolve(manifest.root, '..', c.weights.external.path);
    const model = loadModel(path).model;
    return { config: { ...model.config, maxSeqLen: config.maxSeqLen }, weights: model.weights };
  }
  const path = join(manifest.root, c.weights.file);
  return modelFromMetaTensors(config, parseSafetensors(readFileBytes(path), path), path, blockType(c.weights.blocks, c.name));
}

// The llama-ts storage type of a case's `weights.blocks`, checked.
function blockType(name: string | undefined, caseName: string): QuantizedDType | undefined {
  if (name === undefined) return undefined;
  const dtype = name.toLowerCase();
  if (!isDType(dtype) || dtype === 'f32' || dtype === 'f16') throw new Error(`golden case ${caseName}: weights.blocks "${name}" is not a block type llama-ts reads`);
  return dtype;
}

// Builds a model from tensors named as in Meta's model.py state_dict. With `blocks`, every
// matrix is a U8 tensor [rows, bytes of a row of `blocks` blocks] of raw ggml blocks.
export function modelFromMetaTensors(config: LlamaConfig, file: SafetensorsFile, fileName: string, blocks?: QuantizedDType): LlamaModel {
  for (const name of parameterNames(config)) if (!file.tensors.has(name)) throw new Error(`${fileName}: missing tensor "${name}"`);
  const get = ({ name }: ParameterSlot, rows: number, cols: number): Float32Array => {
    const t = file.tensors.get(name)!;
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== rows * cols) throw new Error(`${fileName}: tensor "${name}" has shape [${t.shape}], expected [${rows}, ${cols}]`);
    return Float32Array.from(tensorToFloat64(t));
  };
  const stored = ({ name }: ParameterSlot, rows: number, cols: number): WeightTensor => {
    const t = file.tensors.get(name)!;
    const bytes = rowBytes(blocks!, cols);
    if (t.dtype !== 'U8' || t.shape.join() !== `${rows},${bytes}`) {
      throw new Error(`${fileName}: tensor "${name}" is ${t.dtype} [${t.shape}], expected ${blocks} blocks as U8 [${rows}, ${bytes}]`);
    }
    return { dtype: blocks!, rows, cols, data: t.bytes.slice() };
  };
  const matrix = (slot: ParameterSlot, rows: number, cols: number) => (blocks ? stored(slot, rows, cols) : f32Tensor(get(slot, rows, cols), rows, cols));
  const gain = (slot: ParameterSlot, length: number) => get(slot, 1, length);
  return { config, weights: assembleWeights(config, matrix, gain) };
}
