// llama-ts in a browser: the library's entry for bundles that run without Node's file
// system (src/index.ts reaches node:fs through loadLlama and friends). Everything works on
// bytes the page has fetched; the WASM backend fetches kernels*.wasm and starts
// wasm-worker.mjs from beside the bundle (web/build.mjs puts them there).
//
// Two browser rules shape the use:
// - The page must be cross-origin isolated (served with Cross-Origin-Opener-Policy:
//   same-origin and Cross-Origin-Embedder-Policy: require-corp): the kernels' memory is a
//   SharedArrayBuffer, which browsers give to no other page.
// - Kernel threads block in Atomics.wait, which a page's main thread may not. There the
//   default is threads: 1 and more is an Error; to use more, load the model inside a Web
//   Worker (as web/model-worker.ts does), whose kernel workers are then nested workers.
import { createModelKernels, type WasmKernels } from './backends/wasm/kernels.js';
import type { BuiltinTemplateName } from './chat/builtin-templates.js';
import { chatTemplateFor } from './chat/model-template.js';
import type { SimdChoice } from './backends/wasm/module.js';
import { createWebGpuKernels, type WebGpuKernels } from './backends/webgpu/kernels.js';
import { loadModelFromBytes } from './formats/load-bytes.js';
import { contextLengthFor, createSession, type LlamaSession } from './generate/session.js';
import { modelTokenizer } from './tokenizer/any-tokenizer.js';

export { createWasmKernels, createModelKernels, defaultThreads, type WasmKernels, type WasmKernelsOptions } from './backends/wasm/kernels.js';
export { createWebGpuKernels, type WebGpuKernels, type WebGpuKernelsOptions } from './backends/webgpu/kernels.js';
export { relaxedSimdSupported, type SimdBuild, type SimdChoice } from './backends/wasm/module.js';
export { loadModelFromBytes, type LoadedModel } from './formats/load-bytes.js';
export { DEFAULT_TOP_P, generate, generateChunks, type GenerateOptions, type GenerationChunk, type GenerationTimings } from './generate/generate.js';
export type { ChatChunk, ChatOptions, ChatStats } from './generate/chat.js';
export { BUILTIN_TEMPLATE_NAMES, builtinChatTemplate, jinjaChatTemplate, encodeChat, type BuiltinTemplateName, type ChatMessage, type ChatTemplate } from './chat/index.js';
export { Sampler, argmax, type SamplerOptions } from './generate/sampler.js';
export { Tokenizer, tokenizerFromBytes } from './tokenizer/tokenizer.js';
export { ByteLevelBpeTokenizer } from './tokenizer/byte-level-bpe.js';
export { anyTokenizerFromBytes, tokenizerFromGGUF, type AnyTokenizer } from './tokenizer/any-tokenizer.js';
export { forward, createKVCache, type KVCache } from '../reference/model.js';
export type { LlamaConfig } from '../reference/config.js';
export type { LlamaModel } from '../reference/weights.js';

export interface BytesLoadOptions {
  model: ArrayBuffer | Uint8Array; // a GGUF or llama2.c file's bytes
  modelName?: string; // named in error messages (default 'model')
  tokenizer?: ArrayBuffer | Uint8Array; // .model, tokenizer.bin, tokenizer.json or GGUF; default: the GGUF model's own vocabulary
  tokenizerName?: string; // default 'tokenizer'; a name ending in .json means a tokenizer.json
  contextLength?: number; // KV cache positions (default: the model's context, at most 4096)
  threads?: number; // kernel threads, this one included (default: 1 on a page's main thread, else every core)
  simd?: SimdChoice; // which WASM build (default 'auto': relaxed SIMD where supported)
  minParallelWork?: number; // multiply-adds from which a matmul is split across threads (0: always)
  chatTemplate?: BuiltinTemplateName; // chat: this built-in template instead of the model's own
  backend?: 'wasm' | 'webgpu'; // default wasm; webgpu: weights, KV cache and forward pass on the GPU (navigator.gpu)
}

// A loaded model ready to generate, on the WASM kernels (src/generate/session.ts).
export type BrowserLlama = LlamaSession<WasmKernels>;

const asBytes = (b: ArrayBuffer | Uint8Array): Uint8Array => (b instanceof Uint8Array ? b : new Uint8Array(b));

// A model from its file's bytes, its weights placed in WASM memory (or, with backend:
// 'webgpu', on the GPU), ready to generate.
export async function loadLlamaFromBytes(options: BytesLoadOptions & { backend: 'webgpu' }): Promise<LlamaSession<WebGpuKernels>>;
export async function loadLlamaFromBytes(options: BytesLoadOptions & { backend?: 'wasm' }): Promise<BrowserLlama>;
export async function loadLlamaFromBytes(options: BytesLoadOptions): Promise<BrowserLlama | LlamaSession<WebGpuKernels>> {
  const modelName = options.modelName ?? 'model';
  const { model, gguf } = loadModelFromBytes(asBytes(options.model), modelName);
  const given = options.tokenizer ? { name: options.tokenizerName ?? 'tokenizer', bytes: asBytes(options.tokenizer) } : undefined;
  const tokenizer = modelTokenizer({ name: modelName, gguf: gguf?.metadata }, given, model.config.vocabSize, "give a tokenizer file's bytes");
  const chatTemplate = chatTemplateFor({ name: modelName, gguf: gguf?.metadata }, tokenizer, options.chatTemplate);
  const contextLength = contextLengthFor(model.config, options.contextLength);
  if (options.backend === 'webgpu') {
    const gpuKernels = await createWebGpuKernels(model);
    return createSession(model, tokenizer, gpuKernels, contextLength, () => gpuKernels.close());
  }
  if (options.backend !== undefined && options.backend !== 'wasm') throw new Error(`unknown backend "${options.backend}" (known: wasm, webgpu)`);
  const kernels = await createModelKernels(model, {
    threads: options.threads, simd: options.simd, minParallelWork: options.minParallelWork, contextLength,
  });
  return createSession(model, tokenizer, kernels, contextLength, () => kernels.close(), chatTemplate);
}
export { explainStep, loadExplainerFromBytes, type ExplainStep, type Explainer } from './explain/index.js';
