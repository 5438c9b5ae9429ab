// A loaded model ready to generate: its tokenizer, its kernels and one KV cache, made on
// first use and reused by every generation (one at a time). Shared by loadLlama (Node,
// src/llama.ts) and loadLlamaFromBytes (browsers, src/browser.ts); imports nothing of Node.
import type { LlamaConfig } from '../../reference/config.js';
import type { Kernels } from '../../reference/kernels.js';
import { createKVCache, type KVCache } from '../../reference/model.js';
import type { LlamaModel } from '../../reference/weights.js';
import type { AnyTokenizer } from '../tokenizer/any-tokenizer.js';
import { generateChunks, type GenerateOptions, type GenerationChunk } from './generate.js';

export interface LlamaSession<K extends Kernels = Kernels> {
  model: LlamaModel;
  tokenizer: AnyTokenizer; // SentencePiece or byte-level BPE
  kernels: K;
  contextLength: number;
  // One generation at a time (they share the KV cache).
  generate(prompt: string, options?: GenerateOptions): AsyncGenerator<string>;
  generateChunks(prompt: string, options?: GenerateOptions): AsyncGenerator<GenerationChunk>;
  // Stops the kernels' worker threads (they never keep a Node process alive, but hold memory).
  close(): Promise<void>;
}

// The KV cache positions asked for, or by default the model's context up to 4096.
export function contextLengthFor(config: LlamaConfig, asked?: number): number {
  const contextLength = asked ?? Math.min(config.maxSeqLen, 4096);
  if (!Number.isInteger(contextLength) || contextLength < 1 || contextLength > config.maxSeqLen) {
    throw new Error(`contextLength must be an integer in 1..${config.maxSeqLen} (the model's context), got ${contextLength}`);
  }
  return contextLength;
}

interface CacheMaker {
  createKVCache?(config: LlamaConfig, capacity?: number): KVCache; // WASM: the cache beside each layer's weights
}

export function createSession<K extends Kernels>(
  model: LlamaModel, tokenizer: AnyTokenizer, kernels: K, contextLength: number, close: () => Promise<void>,
): LlamaSession<K> {
  let cache: KVCache | undefined; // made on first use, then reused
  let busy = false;
  async function* chunks(prompt: string, opts?: GenerateOptions): AsyncGenerator<GenerationChunk> {
    if (busy) throw new Error('this model is already generating: one generation at a time (load another for parallel work)');
    busy = true;
    try {
      cache ??= (kernels as CacheMaker).createKVCache?.(model.config, contextLength) ?? createKVCache(model.config, contextLength, kernels);
      yield* generateChunks({ model, tokenizer, kernels, cache }, prompt, opts);
    } finally {
      busy = false;
    }
  }
  return {
    model,
    tokenizer,
    kernels,
    contextLength,
    generateChunks: chunks,
    close,
    generate: async function* (prompt, opts) {
      for await (const c of chunks(prompt, opts)) if (c.text) yield c.text;
    },
  };
}
