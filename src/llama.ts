// The library's front door: load a model file (and its tokenizer) and get something that
// generates text. Everything here is glue over formats/, tokenizer/, generate/ and the kernels.
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LlamaConfig } from '../reference/config.js';
import type { Kernels } from '../reference/kernels.js';
import { tsKernels } from '../reference/ts-kernels.js';
import type { LlamaModel } from '../reference/weights.js';
import { loadFileIntoKernels } from './backends/wasm/direct-load.js';
import { createModelKernels, createWasmKernels, type WasmKernels } from './backends/wasm/kernels.js';
import type { SimdChoice } from './backends/wasm/module.js';
import { readModelFileLayout } from './formats/file-layout.js';
import type { GGUFValue } from './formats/gguf.js';
import { isHuggingFaceFolder, readHuggingFaceFolder } from './formats/huggingface-folder.js';
import { loadModel } from './formats/load.js';
import type { Vocabulary } from './tokenizer/vocabulary.js';
import { checkTokenizer, contextLengthFor, createSession, type LlamaSession } from './generate/session.js';
import { vocabularyFromGGUF } from './tokenizer/gguf-vocabulary.js';
import type { AnyTokenizer } from './tokenizer/any-tokenizer.js';
import { loadAnyTokenizer } from './tokenizer/load.js';
import { Tokenizer } from './tokenizer/tokenizer.js';

export type BackendName = 'ts' | 'wasm';
export const BACKENDS: readonly BackendName[] = ['wasm', 'ts'];

// The embedded default model (models/kjv.gguf: a small LLaMA this project trained on the King
// James Bible, tokenizer inside), found beside the package: dist/../models or src/../models.
export const DEFAULT_MODEL_FILE = 'kjv.gguf';

export function defaultModelPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const up of ['../models', '../../models']) {
    const path = resolve(here, up, DEFAULT_MODEL_FILE);
    if (existsSync(path)) return path;
  }
  throw new Error(`the default model models/${DEFAULT_MODEL_FILE} is not installed next to llama-ts (${here}); give a model file`);
}

export interface LoadOptions {
  model?: string; // a GGUF or llama2.c file, or a Hugging Face folder; default: the embedded model
  tokenizer?: string; // .model, tokenizer.bin or GGUF; default: the vocabulary inside a GGUF model
  backend?: BackendName; // default wasm (SIMD); ts is the readable reference
  contextLength?: number; // KV cache positions (default: the model's context, at most 4096)
  threads?: number; // wasm: kernel threads, this one included (default: the available parallelism)
  simd?: SimdChoice; // wasm: 'relaxed', 'plain' or 'auto' (default; $LLAMA_TS_SIMD)
}

// A loaded model ready to generate (src/generate/session.ts).
export type Llama = LlamaSession;

export interface KernelOptions {
  threads?: number; // wasm: kernel threads (default: the available parallelism)
  contextLength?: number; // wasm with a model: KV cache positions to plan memory for
  simd?: SimdChoice; // wasm: which build (default 'auto': relaxed SIMD where supported)
}

// The kernels of a backend, for a model (the WASM backend places the weights in its memory,
// in several memories when the model is larger than one holds).
export async function createKernels(backend: BackendName = 'wasm', model?: LlamaModel, options: KernelOptions = {}): Promise<Kernels> {
  if (backend === 'ts') return tsKernels;
  if (backend === 'wasm') {
    if (model) return createModelKernels(model, options);
    return createWasmKernels({ threads: options.threads, simd: options.simd });
  }
  throw new Error(`unknown backend "${backend}" (known: ${BACKENDS.join(', ')})`);
}

// Stops a backend's threads, if it has any.
export async function closeKernels(kernels: Kernels): Promise<void> {
  await (kernels as Partial<WasmKernels>).close?.();
}

export function parseBackend(name: string | undefined): BackendName | undefined {
  if (name === undefined) return undefined;
  if (!(BACKENDS as readonly string[]).includes(name)) throw new Error(`unknown backend "${name}" (known: ${BACKENDS.join(', ')})`);
  return name as BackendName;
}

// A model opened for a backend: its config and the vocabulary that came with it (inside a
// GGUF, beside a Hugging Face checkpoint) now, the weights and kernels on load().
interface ModelSource {
  config: LlamaConfig;
  vocabulary?: Vocabulary;
  load(options: KernelOptions): Promise<{ model: LlamaModel; kernels: Kernels }>;
}

function ggufVocabulary(meta: Record<string, GGUFValue> | undefined, path: string): Vocabulary | undefined {
  return meta && 'tokenizer.ggml.tokens' in meta ? vocabularyFromGGUF(meta, path) : undefined;
}

function openModel(path: string, backend: BackendName): ModelSource {
  if (backend === 'wasm' && !isHuggingFaceFolder(path)) {
    // GGUF or llama2.c: only the header now; the weights later, read from the file straight
    // into WASM memory (backends/wasm/direct-load.ts), never held twice.
    const file = readModelFileLayout(path);
    return { config: file.layout.config, vocabulary: ggufVocabulary(file.gguf?.metadata, path), load: (o) => loadFileIntoKernels(file, o) };
  }
  // The ts backend, and Hugging Face folders on wasm (whose weights createModelKernels then
  // copies into WASM memory): the whole model in JavaScript memory.
  const { model, vocabulary } = isHuggingFaceFolder(path) ? readHuggingFaceFolder(path) : readModelFile(path);
  return { config: model.config, vocabulary, load: async (o) => ({ model, kernels: await createKernels(backend, model, o) }) };
}

function readModelFile(path: string): { model: LlamaModel; vocabulary?: Vocabulary } {
  const loaded = loadModel(path);
  return { model: loaded.model, vocabulary: ggufVocabulary(loaded.gguf?.metadata, path) };
}

export async function loadLlama(options: LoadOptions = {}): Promise<Llama> {
  const modelPath = options.model ?? defaultModelPath();
  const backend = options.backend ?? 'wasm';
  if (!BACKENDS.includes(backend)) throw new Error(`unknown backend "${backend}" (known: ${BACKENDS.join(', ')})`);
  const source = openModel(modelPath, backend);
  const config = source.config;
  let tokenizer: AnyTokenizer;
  if (options.tokenizer) {
    tokenizer = loadAnyTokenizer(options.tokenizer);
  } else if (source.vocabulary) {
    tokenizer = new Tokenizer(source.vocabulary);
  } else {
    throw new Error(`${modelPath}: this model file holds no vocabulary; give a tokenizer file (--tokenizer)`);
  }
  checkTokenizer(tokenizer, config, options.tokenizer ?? modelPath);
  const contextLength = contextLengthFor(config, options.contextLength);
  const { model, kernels } = await source.load({ threads: options.threads, contextLength, simd: options.simd });
  return createSession(model, tokenizer, kernels, contextLength, () => closeKernels(kernels));
}
