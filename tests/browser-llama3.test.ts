// A LLaMA 3 style GGUF in Chromium: LLaMA 3's byte-level vocabulary (llama.cpp's own
// vocabulary file, read at test time), rope θ 500000 with Llama 3.1 RoPE scaling, tied
// embeddings, Q8_0 matrices and its own chat template (LLaMA 3's format) in the file. The
// page's chat worker renders the file's template, tokenizes it with the special tokens, and
// replies exactly as Node's library chat does (greedy, random weights).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { LlamaConfig } from '../reference/config.js';
import { randomModel } from '../reference/init.js';
import { llama3FreqFactors } from '../reference/rope.js';
import { modelToGGUF } from '../src/convert/to-gguf.js';
import type { GGUFMetadataEntry } from '../src/formats/gguf.js';
import { parseGGUF } from '../src/formats/gguf.js';
import { loadLlama } from '../src/llama.js';
import { byteLevelGGUFMetadata } from '../src/tokenizer/byte-level-writers.js';
import { byteLevelVocabularyFromGGUF } from '../src/tokenizer/gguf-byte-level.js';
import { llamaCppVocabCases, removeLlamaCppClone } from './llamacpp-source.js';
import { openPage, type OpenPage } from './browser-helpers.js';

// LLaMA 3's chat format, written here as a model file would carry it
const TEMPLATE =
  "{{- bos_token }}{%- for message in messages %}{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{%- endfor %}" +
  "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}";
const MESSAGES = [{ role: 'system', content: 'You answer briefly.' }, { role: 'user', content: 'Who made the heaven and the earth?' }];

let dir: string;
let opened: OpenPage;
let page: Page;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'llama-ts-browser-llama3-'));
  const vocab = byteLevelVocabularyFromGGUF(parseGGUF(llamaCppVocabCases('llama-bpe').gguf, 'ggml-vocab-llama-bpe.gguf').metadata, 'ggml-vocab-llama-bpe.gguf');
  const hd = 16;
  const config: LlamaConfig = {
    dim: 64, hiddenDim: 128, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: vocab.tokens.length,
    maxSeqLen: 256, normEps: 1e-5, ropeTheta: 500000, sharedClassifier: true,
    ropeFreqFactors: llama3FreqFactors(hd, 500000, { factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalContextLength: 64 }),
  };
  const tokenizerMetadata: GGUFMetadataEntry[] = [...byteLevelGGUFMetadata(vocab), ['tokenizer.chat_template', TEMPLATE, 'string']];
  writeFileSync(join(dir, 'llama3.gguf'), modelToGGUF(randomModel(config, 21, { std: 0.1 }), { dtype: 'q8_0', tokenizerMetadata }));
  opened = await openPage('llamaChat', { dataDir: dir });
  page = opened.page;
}, 300_000);

afterAll(async () => {
  await opened?.close();
  removeLlamaCppClone();
  rmSync(dir, { recursive: true, force: true });
});

describe('a LLaMA 3 style GGUF with its own chat template', () => {
  test("the page's chat renders the file's template and replies as Node does", async () => {
    const llama = await loadLlama({ model: join(dir, 'llama3.gguf'), threads: 1 });
    let nodeReply = '';
    let nodePrompt = 0;
    let generated = 0;
    for await (const chunk of llama.chatChunks(MESSAGES, { temperature: 0, maxTokens: 12 })) {
      nodeReply += chunk.text;
      if (chunk.stats) [nodePrompt, generated] = [chunk.stats.promptTokens, chunk.stats.generated];
    }
    expect(generated).toBeGreaterThan(0); // a real reply to compare, not an immediate end of turn
    expect(nodeReply.length).toBeGreaterThan(0);
    expect(llama.chatTemplate?.source).toMatch(/tokenizer\.chat_template/);
    await llama.close();
    expect(nodePrompt).toBeGreaterThan(20); // <|begin_of_text|>, two headers and both messages

    const r = await page.evaluate(async ([system, user]) => {
      type Client = { start(o: object): Promise<string>; say(t: string, o: object): Promise<{ reply: string; stats: { promptTokens: number } }>; close(): void };
      const chat = (globalThis as unknown as { llamaChat(): Client }).llamaChat();
      const template = await chat.start({ modelUrl: 'data/llama3.gguf', threads: 1 });
      const turn = await chat.say(user, { system, maxTokens: 12, temperature: 0 });
      chat.close();
      return { template, turn };
    }, [MESSAGES[0].content, MESSAGES[1].content] as const);
    expect(r.template).toMatch(/tokenizer\.chat_template/);
    expect(r.turn.stats.promptTokens).toBe(nodePrompt);
    expect(r.turn.reply).toBe(nodeReply);
    expect(opened.pageErrors).toEqual([]);
  }, 300_000);
});
