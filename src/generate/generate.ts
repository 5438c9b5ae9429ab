// Text generation: prompt → tokens → forward passes → sampler → streamed text.
// The prompt goes through the model in one call (prefill), then one token at a time
// with the KV cache (decode).
import type { Kernels } from '../../reference/kernels.js';
import { createKVCache, runForward, type KVCache } from '../../reference/model.js';
import type { LlamaModel } from '../../reference/weights.js';
import { Sampler, topProbabilities, type SamplerOptions, type TokenProbability } from './sampler.js';
import { StopStringFilter } from './stop-strings.js';

// What generation needs of a tokenizer (src/tokenizer's Tokenizer has it).
export interface TextCodec {
  encode(text: string, options?: { bos?: boolean }): number[];
  createStreamDecoder(): { push(id: number): string; flush(): string };
  isEndOfGeneration(id: number): boolean; // EOS, and a byte-level vocabulary's end-of-turn tokens
}

// Generation's sampling defaults, for the library and the CLI alike: temperature 1 with
// nucleus sampling at p = 0.9 (the paper samples with top-p; 0.9 is llama2.c's run.c
// default). A bare Sampler has every truncation off unless asked.
export const DEFAULT_TOP_P = 0.9;

export interface GenerateOptions extends SamplerOptions {
  maxTokens?: number; // new tokens at most (default 256); fewer if the context ends first
  stop?: string[]; // stop before any of these strings would be shown
  bos?: boolean; // begin the prompt with BOS (default true)
  signal?: AbortSignal; // stops generation between two tokens
  alternatives?: number; // give each chunk the K most likely tokens of its step (0/undefined: none)
}

// One generated token and the text it makes visible (may be '' while UTF-8 bytes or a
// possible stop string are held back; the final chunk with done = true flushes them).
export interface GenerationChunk {
  token: number; // -1 in the final chunk
  text: string;
  done: boolean;
  alternatives?: TokenProbability[]; // with options.alternatives: the step's most likely tokens, the model's probabilities
  timings?: GenerationTimings; // in the final chunk
}

// Where the time went, as llama.cpp's timings report it: the forward passes only (not
// sampling, not the consumer's time between chunks). The prompt's pass gives the first
// token's logits; each later token but the last takes one single-token pass.
export interface GenerationTimings {
  promptTokens: number; // tokens the prompt's forward pass evaluated
  promptSeconds: number;
  decodeTokens: number; // single-token forward passes after it
  decodeSeconds: number;
}

// Times forward passes into a GenerationTimings
export class ForwardClock {
  readonly timings: GenerationTimings = { promptTokens: 0, promptSeconds: 0, decodeTokens: 0, decodeSeconds: 0 };

  async prompt<T>(tokens: number, pass: () => T | Promise<T>): Promise<T> {
    const t0 = performance.now();
    const result = await pass();
    this.timings.promptTokens += tokens;
    this.timings.promptSeconds += (performance.now() - t0) / 1000;
    return result;
  }

  async decode<T>(pass: () => T | Promise<T>): Promise<T> {
    const t0 = performance.now();
    const result = await pass();
    this.timings.decodeTokens++;
    this.timings.decodeSeconds += (performance.now() - t0) / 1000;
    return result;
  }
}

export interface Generator {
  model: LlamaModel;
  tokenizer: TextCodec;
  kernels: Kernels;
  cache?: KVCache; // reused across calls when given (one generation at a time); else one per call
}

export async function* generateChunks(g: Generator, prompt: string, options: GenerateOptions = {}): AsyncGenerator<GenerationChunk> {
  const { model, tokenizer, kernels } = g;
  const maxTokens = options.maxTokens ?? 256;
  if (!Number.isInteger(maxTokens) || maxTokens < 0) throw new Error(`maxTokens must be a non-negative integer, got ${maxTokens}`);
  const promptTokens = tokenizer.encode(prompt, { bos: options.bos ?? true });
  const context = g.cache?.capacity ?? model.config.maxSeqLen;
  if (promptTokens.length === 0) throw new Error('the prompt is empty and BOS is off: nothing to start from');
  if (promptTokens.length > context) {
    throw new Error(`the prompt is ${promptTokens.length} tokens long, longer than the model's context of ${context}`);
  }

  const sampler = new Sampler({ ...options, topP: options.topP ?? DEFAULT_TOP_P });
  const decoder = tokenizer.createStreamDecoder();
  for (const t of promptTokens) decoder.push(t); // primes the decoder: the prompt is not re-emitted
  const stops = new StopStringFilter(options.stop ?? []);
  // Positions needed: the prompt, then one forward pass per generated token but the last.
  const cache = g.cache ?? createKVCache(model.config, Math.min(context, promptTokens.length + Math.max(maxTokens, 1) - 1), kernels);
  const history = [...promptTokens];

  const clock = new ForwardClock();
  let logits = await clock.prompt(promptTokens.length, () => runForward(model, kernels, cache, promptTokens, 0));
  for (let n = 0; n < maxTokens; n++) {
    if (options.signal?.aborted) break;
    // before sampling: the repetition penalty changes the logits in place
    const alternatives = options.alternatives ? topProbabilities(logits, options.alternatives) : undefined;
    const token = sampler.sample(logits, history);
    if (tokenizer.isEndOfGeneration(token)) break;
    history.push(token);
    const text = stops.push(decoder.push(token));
    yield alternatives ? { token, text, done: false, alternatives } : { token, text, done: false };
    if (stops.stopped) break;
    const pos = history.length - 1;
    if (n + 1 === maxTokens || pos >= cache.capacity) break;
    logits = await clock.decode(() => runForward(model, kernels, cache, [token], pos));
  }
  yield { token: -1, text: stops.stopped ? '' : stops.push(decoder.flush()) + stops.flush(), done: true, timings: clock.timings };
}

// The generated text, piece by piece, without the prompt.
export async function* generate(g: Generator, prompt: string, options: GenerateOptions = {}): AsyncGenerator<string> {
  for await (const chunk of generateChunks(g, prompt, options)) if (chunk.text) yield chunk.text;
}
