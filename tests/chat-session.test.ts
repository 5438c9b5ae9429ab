// Chat on a kept KV cache (src/generate/chat.ts, the session's chat): a continued
// conversation evaluates only its new tokens, and its logits equal those of a fresh
// evaluation of the whole rendered conversation; generation stops at the template's end of
// turn; a conversation longer than the context is an Error, or loses its oldest turns.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { createKVCache } from '../reference/model.js';
import { tsKernels } from '../reference/ts-kernels.js';
import type { Kernels } from '../reference/kernels.js';
import { builtinChatTemplate, specialTokenTexts, type ChatMessage } from '../src/chat/index.js';
import { renderConversation } from '../src/chat/fit-conversation.js';
import { ggufTensorBytes, metadataEntries, parseGGUF, writeGGUF } from '../src/formats/gguf.js';
import { loadModel } from '../src/formats/load-file.js';
import { readFileBytes } from '../src/io/read-file.js';
import { chatChunks, type CacheContents, type ChatChunk, type ChatStats } from '../src/generate/chat.js';
import type { GenerationTimings } from '../src/generate/generate.js';
import { loadLlama } from '../src/llama.js';
import { tokenizerFromGGUF } from '../src/tokenizer/any-tokenizer.js';

const STORIES = '../shared/data/stories260K/stories260K.gguf';
const system: ChatMessage = { role: 'system', content: 'You tell short stories.' };
const first: ChatMessage[] = [system, { role: 'user', content: 'Tell me about Lily.' }];
const then = (reply: string): ChatMessage[] => [...first, { role: 'assistant', content: reply }, { role: 'user', content: 'What did she see?' }];

async function collect(chunks: AsyncIterable<ChatChunk>): Promise<{ text: string; stats: ChatStats; timings: GenerationTimings }> {
  let text = '';
  let stats: ChatStats | undefined;
  let timings: GenerationTimings | undefined;
  for await (const c of chunks) {
    text += c.text;
    if (c.done) ({ stats, timings } = c);
  }
  return { text, stats: stats!, timings: timings! };
}

describe('chatChunks on the readable kernels', () => {
  const { model, gguf } = loadModel(STORIES);
  const tokenizer = tokenizerFromGGUF(gguf!.metadata, STORIES);
  const template = builtinChatTemplate('llama-2', specialTokenTexts(tokenizer));
  // The ts kernels, keeping a copy of each classifier output: the logits of the last position.
  const logitsSeen: Float32Array[] = [];
  const kernels: Kernels = {
    ...tsKernels,
    matmul(out, x, w, T) {
      tsKernels.matmul(out, x, w, T);
      if (w === model.weights.output) logitsSeen.push(out.slice(out.length - model.config.vocabSize));
    },
  };
  const newChat = () => ({ g: { model, tokenizer, kernels, cache: createKVCache(model.config, 256) }, held: { tokens: [] } as CacheContents });

  test('turn 2 reuses turn 1 from the cache, and its logits equal a fresh evaluation of the whole conversation', async () => {
    const chat = newChat();
    const options = { temperature: 0, maxTokens: 12 };
    const turn1 = await collect(chatChunks(chat.g, chat.held, template, first, options));
    expect(turn1.stats).toMatchObject({ reused: 0, evaluated: turn1.stats.promptTokens, generated: 12, droppedMessages: 0 });
    expect(chat.held.tokens.length).toBe(turn1.stats.promptTokens + 11); // the last reply token was sampled, not evaluated
    // the timings count the forward passes: the prompt's, then one per reply token but the last
    expect(turn1.timings).toMatchObject({ promptTokens: turn1.stats.evaluated, decodeTokens: 11 });
    expect(turn1.timings.promptSeconds).toBeGreaterThan(0);
    expect(turn1.timings.decodeSeconds).toBeGreaterThan(0);

    const second = then(turn1.text);
    logitsSeen.length = 0;
    const turn2 = await collect(chatChunks(chat.g, chat.held, template, second, options));
    const continued = logitsSeen[0]; // the prompt's logits, from the evaluation of its new tokens only
    const promptTokens = renderConversation(template, tokenizer, second);
    expect(turn2.stats.promptTokens).toBe(promptTokens.length);
    expect(turn2.stats.reused).toBeGreaterThanOrEqual(turn1.stats.promptTokens); // at least turn 1's prompt
    expect(turn2.stats.reused + turn2.stats.evaluated).toBe(promptTokens.length);
    expect(turn2.stats.evaluated).toBeLessThan(promptTokens.length / 2);
    expect(turn2.timings.promptTokens).toBe(turn2.stats.evaluated); // only the new tokens went through the model

    const fresh = newChat();
    logitsSeen.length = 0;
    const again = await collect(chatChunks(fresh.g, fresh.held, template, second, options));
    expect(again.stats).toMatchObject({ reused: 0, evaluated: promptTokens.length });
    const whole = logitsSeen[0];
    expect(continued.length).toBe(model.config.vocabSize);
    let maxDiff = 0;
    for (let i = 0; i < whole.length; i++) maxDiff = Math.max(maxDiff, Math.abs(whole[i] - continued[i]));
    expect(maxDiff).toBeLessThan(1e-4);
    expect(again.text).toBe(turn2.text);
  });

  test('a conversation that re-renders an earlier turn differently evaluates from the first difference', async () => {
    const chat = newChat();
    await collect(chatChunks(chat.g, chat.held, template, first, { temperature: 0, maxTokens: 4 }));
    const edited = [{ role: 'system', content: 'You tell long stories.' }, first[1]];
    const r = await collect(chatChunks(chat.g, chat.held, template, edited, { temperature: 0, maxTokens: 4 }));
    const tokens = renderConversation(template, tokenizer, edited);
    const before = renderConversation(template, tokenizer, first);
    let common = 0;
    while (tokens[common] === before[common]) common++;
    expect(r.stats).toMatchObject({ reused: common, evaluated: tokens.length - common });
  });

  test('generation stops before the template writes its end of turn (a stop string)', async () => {
    const chatml = builtinChatTemplate('chatml', specialTokenTexts(tokenizer));
    const stops = { ...chatml, stops: ['.'] }; // stories260K never writes <|im_end|>; a full stop stands for it
    const chat = newChat();
    const r = await collect(chatChunks(chat.g, chat.held, stops, first, { temperature: 0, maxTokens: 60 }));
    expect(r.text).not.toContain('.');
    expect(r.stats.generated).toBeLessThan(60);
  });
});

describe("the session's chat (loadLlama, WASM)", () => {
  test('streams replies, reuses the cache between turns, starts over after generate; no template is a clear Error', async () => {
    const llama = await loadLlama({ model: STORIES, chatTemplate: 'zephyr', threads: 1 });
    const options = { temperature: 0, maxTokens: 10 };
    let reply = '';
    for await (const text of llama.chat(first, options)) reply += text;
    const turn2 = await collect(llama.chatChunks(then(reply), options));
    expect(turn2.stats.reused).toBeGreaterThan(20);
    for await (const _ of llama.generate('Once', { maxTokens: 2 })); // overwrites the cache
    const after = await collect(llama.chatChunks(then(reply), options));
    expect(after.stats.reused).toBe(0);
    expect(after.text).toBe(turn2.text); // the same reply from a fresh evaluation
    await llama.close();

    const plain = await loadLlama({ model: STORIES, threads: 1 });
    expect(plain.chatTemplate).toBeUndefined();
    await expect(collect(plain.chatChunks(first))).rejects.toThrow(/this model has no chat template .*pick a built-in one \(chatTemplate: llama-2, llama-3, chatml or zephyr; --chat-template\)/);
    await plain.close();
  });

  test('a conversation longer than the context: an Error with its length, or its oldest turns dropped with contextShift', async () => {
    const llama = await loadLlama({ model: STORIES, chatTemplate: 'llama-2', threads: 1, contextLength: 128 });
    const long: ChatMessage[] = [system];
    for (let i = 0; i < 6; i++) long.push({ role: 'user', content: `Tell me story ${i}.` }, { role: 'assistant', content: `Once upon a time there was a cat number ${i}.` });
    long.push({ role: 'user', content: 'One more.' });
    await expect(collect(llama.chatChunks(long, { maxTokens: 8 }))).rejects.toThrow(/^the conversation is \d+ tokens long: too long for the context of 128 tokens/);
    const shifted = await collect(llama.chatChunks(long, { maxTokens: 8, temperature: 0, contextShift: true }));
    expect(shifted.stats.droppedMessages).toBeGreaterThanOrEqual(2);
    expect(shifted.stats.promptTokens + 8).toBeLessThanOrEqual(128);
    await llama.close();
  });
});

// stories260K.gguf with a tokenizer.chat_template in its metadata.
function withTemplate(dir: string, template: string): string {
  const file = parseGGUF(readFileBytes(STORIES), STORIES);
  const path = join(dir, 'templated.gguf');
  writeFileSync(path, writeGGUF({
    metadata: [...metadataEntries(file), ['tokenizer.chat_template', template]],
    tensors: file.tensors.map((t) => ({ name: t.name, dims: t.dims, type: t.type, data: ggufTensorBytes(file, t) })),
  }));
  return path;
}

describe("a GGUF's own tokenizer.chat_template", () => {
  const ZEPHYR_STYLE = "{% for message in messages %}{{ '<|' + message['role'] + '|>\\n' + message['content'] + eos_token + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}";

  test('is rendered for chat, and equals the built-in it spells; --chat-template overrides it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chat-gguf-'));
    try {
      const path = withTemplate(dir, ZEPHYR_STYLE);
      const own = await loadLlama({ model: path, threads: 1 });
      expect(own.chatTemplate?.source).toBe(`${path}: tokenizer.chat_template`);
      const reply = await collect(own.chatChunks(first, { temperature: 0, maxTokens: 12 }));
      await own.close();
      const builtin = await loadLlama({ model: path, threads: 1, chatTemplate: 'zephyr' });
      expect(builtin.chatTemplate?.source).toBe('built-in zephyr');
      const again = await collect(builtin.chatChunks(first, { temperature: 0, maxTokens: 12 }));
      expect({ text: again.text, stats: again.stats }).toEqual({ text: reply.text, stats: reply.stats }); // timings differ, of course
      await builtin.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("one that fails is an Error with the template's message and the file", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chat-gguf-'));
    try {
      const path = withTemplate(dir, "{% if messages|length > 1 %}{{ raise_exception('only one message, please') }}{% endif %}{{ messages[0].content }}");
      const llama = await loadLlama({ model: path, threads: 1 });
      await expect(collect(llama.chatChunks(first))).rejects.toThrow(`chat template (${path}: tokenizer.chat_template) failed: only one message, please`);
      await llama.close();
      const broken = withTemplate(dir, '{{ messages[0].content + }}');
      await expect(loadLlama({ model: broken, threads: 1 })).rejects.toThrow(`chat template (${broken}: tokenizer.chat_template) failed: Unexpected token`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
