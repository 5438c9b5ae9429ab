// Training checkpoints: everything a run needs to continue exactly where it stopped.
//
// A checkpoint directory holds
//   model.gguf     the weights with the tokenizer inside (llama-ts generate --model DIR/model.gguf)
//   model.bin      the same weights as a llama2.c version 1 file (run.c and friends)
//   optimizer.bin  the training state, self-contained: what --resume reads
//   state.json     the JSON part of optimizer.bin, for people
//
// optimizer.bin layout (little-endian):
//   0   u32 magic "LTCK"        4  u32 version 1
//   8   u32 JSON byte length J  12 u32 0 (reserved)
//   16  J bytes of UTF-8 JSON (TrainState), zero-padded to a multiple of 4
//   then per parameter in Meta's order (namedParameters): value f32[n], m f32[n], v f32[n]
//
// Every file is replaced atomically (atomic.ts). Since optimizer.bin alone holds the weights,
// the moments and the state, a crash leaves it whole, old or new; the other files may then be
// one step newer, each of them whole too.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateConfig, type LlamaConfig } from '../../reference/config.js';
import { f32Tensor } from '../../reference/tensor.js';
import { createGradients, namedParameters, type LlamaGradients } from '../../reference/gradients.js';
import { assembleWeights, atSlot, parameterCount, type LlamaModel, type ParameterSlot } from '../../reference/weights.js';
import { modelToGGUF } from '../convert/to-gguf.js';
import { writeLlama2c } from '../formats/llama2c.js';
import type { Vocabulary } from '../tokenizer/vocabulary.js';
import { writeFileAtomic, writeTextAtomic } from '../io/atomic-file.js';
import type { Trainer } from './step.js';

export const CHECKPOINT_MAGIC = 0x4b43544c; // "LTCK" little-endian
const HEADER_BYTES = 16;
const MAX_JSON_BYTES = 1 << 20;

export const CHECKPOINT_FILES = { gguf: 'model.gguf', llama2c: 'model.bin', optimizer: 'optimizer.bin', state: 'state.json' } as const;

// The JSON part of a checkpoint. `options` is the run's settings (TrainOptions, kept opaque
// here so this file does not depend on the loop).
export interface TrainState {
  format: 'llama-ts-train';
  version: 1;
  step: number; // optimizer steps done; the next batch is drawn for step + 1
  config: LlamaConfig;
  options: Record<string, unknown>;
  tokensSeen: number;
  elapsedSeconds: number; // training time over all sessions
}

export interface LoadedCheckpoint {
  state: TrainState;
  model: LlamaModel;
  m: Float32Array[]; // AdamW first moments, Meta's parameter order
  v: Float32Array[]; // AdamW second moments
}

// A model whose weights are the given arrays (shaped as createGradients makes them).
function modelOverArrays(config: LlamaConfig, a: LlamaGradients): LlamaModel {
  const matrix = (slot: ParameterSlot, rows: number, cols: number) => f32Tensor(atSlot(a, slot), rows, cols);
  return { config, weights: assembleWeights(config, matrix, (slot) => atSlot(a, slot)) };
}

// The bytes of optimizer.bin for a trainer and its state.
export function optimizerBytes(trainer: Trainer, state: TrainState): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(state));
  const jsonPadded = (json.length + 3) & ~3;
  const floats = trainer.params.reduce((n, p) => n + 3 * p.value.length, 0);
  const out = new Uint8Array(HEADER_BYTES + jsonPadded + 4 * floats);
  const view = new DataView(out.buffer);
  view.setUint32(0, CHECKPOINT_MAGIC, true);
  view.setUint32(4, 1, true);
  view.setUint32(8, json.length, true);
  out.set(json, HEADER_BYTES);
  const body = new Float32Array(out.buffer, HEADER_BYTES + jsonPadded, floats); // [Σ 3n] value, m, v per parameter
  let at = 0;
  trainer.params.forEach((p, j) => {
    for (const a of [p.value, trainer.optimizer.m[j], trainer.optimizer.v[j]]) {
      body.set(a, at);
      at += a.length;
    }
  });
  return out;
}

function checkState(s: unknown, fileName: string): TrainState {
  const st = s as TrainState;
  if (typeof st !== 'object' || st === null || st.format !== 'llama-ts-train') throw new Error(`${fileName}: state JSON is not a llama-ts training state (field "format")`);
  if (st.version !== 1) throw new Error(`${fileName}: training state version ${String(st.version)} is not supported (field "version")`);
  if (!Number.isSafeInteger(st.step) || st.step < 0) throw new Error(`${fileName}: field "step" must be an integer ≥ 0, got ${String(st.step)}`);
  if (typeof st.config !== 'object' || st.config === null) throw new Error(`${fileName}: field "config" is missing`);
  if (typeof st.options !== 'object' || st.options === null) throw new Error(`${fileName}: field "options" is missing`);
  validateConfig(st.config, `${fileName}: field "config"`);
  return st;
}

// Parses optimizer.bin, checking every size against the file before allocating.
export function parseOptimizerFile(bytes: Uint8Array, fileName: string): LoadedCheckpoint {
  if (bytes.length < HEADER_BYTES) throw new Error(`${fileName}: ${bytes.length} bytes is too short for a checkpoint header (16 bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, true);
  if (magic !== CHECKPOINT_MAGIC) throw new Error(`${fileName}: not a llama-ts checkpoint (magic 0x${magic.toString(16)} at byte 0, expected "LTCK")`);
  const version = view.getUint32(4, true);
  if (version !== 1) throw new Error(`${fileName}: checkpoint version ${version} at byte 4 is not supported`);
  const jsonBytes = view.getUint32(8, true);
  if (jsonBytes > MAX_JSON_BYTES || HEADER_BYTES + jsonBytes > bytes.length) {
    throw new Error(`${fileName}: JSON length ${jsonBytes} at byte 8 runs past the end of the file (${bytes.length} bytes)`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(HEADER_BYTES, HEADER_BYTES + jsonBytes)));
  } catch (e) {
    throw new Error(`${fileName}: the state JSON at byte ${HEADER_BYTES} does not parse: ${(e as Error).message}`);
  }
  const state = checkState(parsed, fileName);
  const c = state.config;
  const floats = 3 * parameterCount(c); // value, m, v
  const bodyAt = HEADER_BYTES + ((jsonBytes + 3) & ~3);
  if (bytes.length !== bodyAt + 4 * floats) {
    throw new Error(`${fileName}: the config implies ${bodyAt + 4 * floats} bytes (weights and moments), the file has ${bytes.length}`);
  }
  const model = modelOverArrays(c, createGradients(c)); // zeroed arrays of the right shapes become the weights
  const params = namedParameters(model, createGradients(c));
  const m: Float32Array[] = [];
  const v: Float32Array[] = [];
  let at = bodyAt;
  const take = (n: number): Float32Array => {
    const a = new Float32Array(bytes.slice(at, at + 4 * n).buffer); // slice: an aligned copy
    at += 4 * n;
    return a;
  };
  for (const p of params) {
    p.value.set(take(p.value.length));
    m.push(take(p.value.length));
    v.push(take(p.value.length));
  }
  return { state, model, m, v };
}

export function loadCheckpoint(dir: string): LoadedCheckpoint {
  const path = join(dir, CHECKPOINT_FILES.optimizer);
  if (!existsSync(path)) throw new Error(`${dir}: no checkpoint here (${CHECKPOINT_FILES.optimizer} is missing)`);
  return parseOptimizerFile(new Uint8Array(readFileSync(path)), path);
}

// Puts a loaded checkpoint's moments and step into a trainer made over its model.
export function restoreOptimizer(trainer: Trainer, ckpt: LoadedCheckpoint): void {
  if (trainer.params.length !== ckpt.m.length) throw new Error(`checkpoint has ${ckpt.m.length} parameters, the model ${trainer.params.length}`);
  trainer.params.forEach((p, j) => {
    trainer.optimizer.m[j].set(ckpt.m[j]);
    trainer.optimizer.v[j].set(ckpt.v[j]);
  });
  trainer.optimizer.step = ckpt.state.step;
}

// Writes the four checkpoint files into `dir`, each atomically; optimizer.bin is the one
// --resume trusts. The GGUF carries the vocabulary so it runs with no other file.
export function saveCheckpoint(dir: string, trainer: Trainer, state: TrainState, vocabulary: Vocabulary, name = 'llama-ts'): void {
  const model = trainer.model;
  writeFileAtomic(join(dir, CHECKPOINT_FILES.gguf), modelToGGUF(model, { vocabulary, name }));
  writeFileAtomic(join(dir, CHECKPOINT_FILES.llama2c), writeLlama2c(model, 1));
  writeFileAtomic(join(dir, CHECKPOINT_FILES.optimizer), optimizerBytes(trainer, state));
  writeTextAtomic(join(dir, CHECKPOINT_FILES.state), JSON.stringify(state, null, 2) + '\n');
}
