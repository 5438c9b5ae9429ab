// A loaded model ready to generate: its tokenizer, its kernels and one KV cache, made on
// first use and reused by every generation (one at a time). Shared by loadLlama (Node,
// src/llama.ts) and loadLlamaFromBytes (browsers, src/browser.ts); imports nothing of Node.
import type { LlamaConfig } from '../../reference/config.js';
import type { Kernels } from '../../reference/kernels.js';
import { createKVCache, type KVCache } from '../../reference/model.js';
import type { LlamaModel } from '../../reference/weights.js';
import type { ChatMessage } from '../chat/builtin-templates.js';
import type { ChatTemplate } from '../chat/chat-template.js';
import type { AnyTokenizer } from '../tokenizer/any-tokenizer.js';
import { chatChunks, type CacheContents, type ChatChunk, type ChatOptions } from './chat.js';
import { generateChunks, type GenerateOptions, type GenerationChunk } from './generate.js';

export interface LlamaSession<K extends Kernels = Kernels> {
  model: LlamaModel;
  tokenizer: AnyTokenizer; // SentencePiece or byte-level BPE
  kernels: K;
  contextLength: number;
  // One generation at a time (they share the KV cache).
  generate(prompt: string, options?: GenerateOptions): AsyncGenerator<string>;
  generateChunks(prompt: string, options?: GenerateOptions): AsyncGenerator<GenerationChunk>;
  // The chat template (the model's own, or the built-in one asked for); undefined: none.
  chatTemplate?: ChatTemplate;
  // The assistant's reply to a conversation (src/generate/chat.ts). The KV cache is kept
  // between calls: a conversation that continues the previous one evaluates only its new
  // tokens. A generate() call in between uses the cache, so the next chat starts over.
  chat(messages: readonly ChatMessage[], options?: ChatOptions): AsyncGenerator<string>;
  chatChunks(messages: readonly ChatMessage[], options?: ChatOptions): AsyncGenerator<ChatChunk>; // the last one has the turn's stats
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
  model: LlamaModel, tokenizer: AnyTokenizer, kernels: K, contextLength: number, close: () => Promise<void>, chatTemplate?: ChatTemplate,
): LlamaSession<K> {
  let cache: KVCache | undefined; // made on first use, then reused
  const held: CacheContents = { tokens: [] }; // what the cache holds for chat's reuse
  let busy = false;
  let closed = false;
  // Runs one generation or chat turn at a time, on the one cache. close() between two chunks
  // ends the generation there (the kernels are gone), as a consumer's break would.
  async function* exclusive<T>(run: (cache: KVCache) => AsyncGenerator<T>): AsyncGenerator<T> {
    if (closed) throw new Error('this model is closed (close() was called): load it again to generate');
    if (busy) throw new Error('this model is already generating: one generation at a time (load another for parallel work)');
    busy = true;
    try {
      cache ??= (kernels as CacheMaker).createKVCache?.(model.config, contextLength) ?? createKVCache(model.config, contextLength, kernels);
      for await (const chunk of run(cache)) {
        yield chunk;
        if (closed) return;
      }
    } finally {
      busy = false;
    }
  }
  function chunks(prompt: string, opts?: GenerateOptions): AsyncGenerator<GenerationChunk> {
    return exclusive((c) => {
      held.tokens = []; // generate overwrites the cache from position 0
      return generateChunks({ model, tokenizer, kernels, cache: c }, prompt, opts);
    });
  }
  async function* chatTurn(messages: readonly ChatMessage[], opts?: ChatOptions): AsyncGenerator<ChatChunk> {
    if (!chatTemplate) {
      throw new Error('this model has no chat template (GGUF tokenizer.chat_template, chat_template in tokenizer_config.json): pick a built-in one (chatTemplate: llama-2, llama-3, chatml or zephyr; --chat-template)');
    }
    const template = chatTemplate;
    yield* exclusive((c) => chatChunks({ model, tokenizer, kernels, cache: c }, held, template, messages, opts));
  }
  return {
    model,
    tokenizer,
    kernels,
    contextLength,
    chatTemplate,
    generateChunks: chunks,
    chatChunks: chatTurn,
    close: async () => {
      closed = true;
      await close();
    },
    generate: async function* (prompt, opts) {
      for await (const c of chunks(prompt, opts)) if (c.text) yield c.text;
    },
    chat: async function* (messages, opts) {
      for await (const c of chatTurn(messages, opts)) if (c.text) yield c.text;
    },
  };
}
