// The library's front door: load a model file (and its tokenizer) and get something that
// generates text. Everything here is glue over formats/, tokenizer/, generate/ and the kernels.
import { existsSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LlamaConfig } from '../reference/config.js';
import type { Kernels } from '../reference/kernels.js';
import { tsKernels } from '../reference/ts-kernels.js';
import type { LlamaModel } from '../reference/weights.js';
import { loadFileIntoKernels } from './backends/wasm/direct-load.js';
import { createModelKernels, createWasmKernels, type WasmKernels } from './backends/wasm/kernels.js';
import type { SimdChoice } from './backends/wasm/module.js';
import { createWebGpuKernels } from './backends/webgpu/kernels.js';
import type { BuiltinTemplateName } from './chat/builtin-templates.js';
import { chatTemplateFor } from './chat/model-template.js';
import { readModelFileLayout } from './formats/load-header.js';
import { modelPathKind, readModelPath } from './formats/load-file.js';
import { createEvaluator, type Evaluator } from './eval/evaluator.js';
import { contextLengthFor, createSession, type LlamaSession } from './generate/session.js';
import { readTokenizerFile } from './tokenizer/load.js';
import type { ModelFiles } from './tokenizer/model-vocabulary.js';
import { modelTokenizer } from './tokenizer/any-tokenizer.js';

export type BackendName = 'ts' | 'wasm' | 'webgpu';
export const BACKENDS: readonly BackendName[] = ['wasm', 'ts', 'webgpu'];

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
  tokenizer?: string; // .model, tokenizer.bin, tokenizer.json or GGUF; default: the model's own (src/tokenizer/model-vocabulary.ts)
  backend?: BackendName; // default wasm (SIMD); ts is the readable reference; webgpu (weights and KV cache on the GPU)
  contextLength?: number; // KV cache positions (default: the model's context, at most 4096)
  threads?: number; // wasm: kernel threads, this one included (default: the available parallelism)
  simd?: SimdChoice; // wasm: 'relaxed', 'plain' or 'auto' (default; $LLAMA_TS_SIMD)
  chatTemplate?: BuiltinTemplateName; // chat: this built-in template instead of the model's own (src/chat)
}

// A loaded model ready to generate (src/generate/session.ts).
export type Llama = LlamaSession;

export interface KernelOptions {
  threads?: number; // wasm: kernel threads (default: the available parallelism)
  contextLength?: number; // wasm with a model: KV cache positions to plan memory for
  simd?: SimdChoice; // wasm: which build (default 'auto': relaxed SIMD where supported)
  activations?: 'q8' | 'f32'; // wasm: 'q8' (default) rounds activations to 8 bits for quantized weights when decoding
}

// The kernels of a backend, for a model (the WASM backend places the weights in its memory,
// in several memories when the model is larger than one holds).
export async function createKernels(backend: BackendName = 'wasm', model?: LlamaModel, options: KernelOptions = {}): Promise<Kernels> {
  if (backend === 'ts') return tsKernels;
  if (backend === 'wasm') {
    if (model) return createModelKernels(model, options);
    return createWasmKernels({ threads: options.threads, simd: options.simd, activations: options.activations });
  }
  if (backend === 'webgpu') {
    // The GPU holds the model's weights: its kernels are made for one model.
    if (!model) throw new Error('the webgpu backend runs whole forward passes of one model: give the model');
    return createWebGpuKernels(model);
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

// A model opened for a backend: its config and what may hold its vocabulary (a GGUF's
// metadata, a Hugging Face checkpoint's tokenizer files) now, the weights and kernels on load().
interface OpenedModel {
  config: LlamaConfig;
  files: ModelFiles;
  load(options: KernelOptions): Promise<{ model: LlamaModel; kernels: Kernels }>;
}

function openModel(path: string, backend: BackendName): OpenedModel {
  if (backend === 'wasm' && modelPathKind(path) === 'file') {
    // GGUF or llama2.c: only the header now; the weights later, read from the file straight
    // into WASM memory (backends/wasm/direct-load.ts), never held twice.
    const file = readModelFileLayout(path);
    return { config: file.layout.config, files: { name: path, gguf: file.gguf?.metadata }, load: (o) => loadFileIntoKernels(file, o) };
  }
  // The ts backend, and Hugging Face folders on wasm (whose weights createModelKernels then
  // copies into WASM memory): the whole model in JavaScript memory.
  const { model, files } = readWholeModel(path);
  return { config: model.config, files, load: async (o) => ({ model, kernels: await createKernels(backend, model, o) }) };
}

// The whole model in JavaScript memory, and what may hold its vocabulary.
export function readWholeModel(path: string): { model: LlamaModel; files: ModelFiles } {
  const { model, gguf, huggingFace } = readModelPath(path);
  return { model, files: { name: path, gguf: gguf?.metadata, huggingFace } };
}

export async function loadLlama(options: LoadOptions = {}): Promise<Llama> {
  const modelPath = options.model ?? defaultModelPath();
  const backend = options.backend ?? 'wasm';
  if (!BACKENDS.includes(backend)) throw new Error(`unknown backend "${backend}" (known: ${BACKENDS.join(', ')})`);
  const opened = openModel(modelPath, backend);
  const config = opened.config;
  const given = options.tokenizer ? readTokenizerFile(options.tokenizer) : undefined;
  const tokenizer = modelTokenizer(opened.files, given, config.vocabSize, 'give a tokenizer file (--tokenizer)');
  const chatTemplate = chatTemplateFor(opened.files, tokenizer, options.chatTemplate);
  const contextLength = contextLengthFor(config, options.contextLength);
  const { model, kernels } = await opened.load({ threads: options.threads, contextLength, simd: options.simd });
  return createSession(model, tokenizer, kernels, contextLength, () => closeKernels(kernels), chatTemplate);
}

// A model loaded for evaluation (src/eval/: perplexity, KL divergence, multiple choice):
// loadLlama's, wrapped in an Evaluator with its own KV cache; the caller closes it when done.
export interface LoadedEvaluator extends Evaluator {
  close(): Promise<void>;
}

export async function loadEvaluator(options: LoadOptions): Promise<LoadedEvaluator> {
  const llama = await loadLlama(options);
  const name = basename(options.model ?? defaultModelPath());
  return { ...createEvaluator(llama, name), close: () => llama.close() };
}
