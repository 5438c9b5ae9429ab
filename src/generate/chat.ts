// Chat on a kept KV cache: each turn renders the whole conversation (src/chat), finds the
// longest common token prefix with what the cache holds, and evaluates only the rest. This
// stays right for templates that re-render earlier turns differently: whatever differs is
// simply evaluated again. The reply streams as generate.ts's does and ends at any
// end-of-generation token, at the template's end of turn, or at a stop string.
import { forward, type KVCache } from '../../reference/model.js';
import type { ChatMessage } from '../chat/builtin-templates.js';
import type { ChatTemplate } from '../chat/chat-template.js';
import { fitConversation } from '../chat/fit-conversation.js';
import type { AnyTokenizer } from '../tokenizer/any-tokenizer.js';
import { DEFAULT_TOP_P, ForwardClock, type GenerateOptions, type GenerationChunk, type Generator } from './generate.js';
import { Sampler } from './sampler.js';
import { StopStringFilter } from './stop-strings.js';

export interface ChatOptions extends Omit<GenerateOptions, 'bos'> {
  contextShift?: boolean; // drop the oldest turns (keeping the system message) when the conversation outgrows the context
}

export interface ChatStats {
  promptTokens: number; // the rendered conversation, with the generation prompt
  evaluated: number; // of those, evaluated in this turn
  reused: number; // of those, found in the KV cache
  generated: number; // reply tokens
  droppedMessages: number; // oldest messages left out (contextShift)
}

// The final chunk (done) carries the turn's stats.
export interface ChatChunk extends GenerationChunk {
  stats?: ChatStats;
}

// The tokens whose keys and values the cache holds, at positions 0..n-1.
export interface CacheContents {
  tokens: number[];
}

export interface ChatGenerator extends Generator {
  tokenizer: AnyTokenizer;
  cache: KVCache;
}

export async function* chatChunks(
  g: ChatGenerator, held: CacheContents, template: ChatTemplate, messages: readonly ChatMessage[], options: ChatOptions = {},
): AsyncGenerator<ChatChunk> {
  const { model, tokenizer, kernels, cache } = g;
  const maxTokens = options.maxTokens ?? 256;
  if (!Number.isInteger(maxTokens) || maxTokens < 0) throw new Error(`maxTokens must be a non-negative integer, got ${maxTokens}`);
  const fitted = fitConversation(template, tokenizer, messages, { context: cache.capacity, reply: maxTokens, contextShift: options.contextShift === true });
  const prompt = fitted.tokens;
  // At least the last prompt token is evaluated: its logits give the first reply token.
  const reused = Math.min(commonPrefixLength(prompt, held.tokens), prompt.length - 1);
  held.tokens.length = reused; // the cache past `reused` is about to be overwritten
  const clock = new ForwardClock();
  let logits = await clock.prompt(prompt.length - reused, () => forward(model, kernels, cache, prompt.slice(reused), reused));
  held.tokens.push(...prompt.slice(reused));

  const sampler = new Sampler({ ...options, topP: options.topP ?? DEFAULT_TOP_P });
  const decoder = tokenizer.createStreamDecoder();
  for (const t of prompt) decoder.push(t); // primes the decoder: the prompt is not re-emitted
  const stops = new StopStringFilter([...template.stops, ...(options.stop ?? [])]);
  const history = [...prompt];
  let generated = 0;
  for (let n = 0; n < maxTokens; n++) {
    if (options.signal?.aborted) break;
    const token = sampler.sample(logits, history);
    if (tokenizer.isEndOfGeneration(token)) break;
    history.push(token);
    generated++;
    const text = stops.push(decoder.push(token));
    yield { token, text, done: false };
    if (stops.stopped || n + 1 === maxTokens || held.tokens.length >= cache.capacity) break;
    logits = await clock.decode(() => forward(model, kernels, cache, [token], held.tokens.length));
    held.tokens.push(token);
  }
  const stats = { promptTokens: prompt.length, evaluated: prompt.length - reused, reused, generated, droppedMessages: fitted.dropped };
  yield { token: -1, text: stops.stopped ? '' : stops.push(decoder.flush()) + stops.flush(), done: true, stats, timings: clock.timings };
}

function commonPrefixLength(a: readonly number[], b: readonly number[]): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}
