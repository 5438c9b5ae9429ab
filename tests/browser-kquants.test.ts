// A Q4_K_M file in Chromium: a random model of dims that K-quants fit (multiples of 256, the
// tok512 vocabulary) is quantized here with llama-ts's own quantizer to llama.cpp's Q4_K_M
// mixture (Q6_K for the output and half the layers' attn_v/ffn_down, Q4_K elsewhere), written
// as GGUF, served to the page and run there greedy on the WASM backend: the page's text is
// Node's, token for token, and the matrices stay in their K-quant types (nothing widened).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { LlamaConfig } from '../reference/config.js';
import { randomModel } from '../reference/init.js';
import { modelToGGUF } from '../src/convert/to-gguf.js';
import { loadModel } from '../src/formats/load-file.js';
import { loadLlama } from '../src/llama.js';
import { vocabularyFromSentencePieceModel } from '../src/tokenizer/sentencepiece-model.js';
import type { RunRequest, RunResult } from '../web/run.js';
import { openPage, type OpenPage } from './browser-helpers.js';
import { dataPath } from './formats-helpers.js';

const TOK512_MODEL = dataPath('stories260K/tok512.model');
const config: LlamaConfig = {
  dim: 256, nLayers: 2, nHeads: 4, nKvHeads: 2, hiddenDim: 768, vocabSize: 512, maxSeqLen: 128,
  normEps: 1e-5, ropeTheta: 10000, sharedClassifier: false,
};
// std 0.1: distributions peaked enough that greedy is no coin toss between near-equal logits
const model = randomModel(config, 5, { std: 0.1, gainJitter: 0.5 });
const REQUEST: RunRequest = { modelUrl: 'data/q4_k_m.gguf', prompt: 'Once upon a time', maxTokens: 40, temperature: 0, threads: 1 };

let dir: string;
let opened: OpenPage;
let page: Page;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'llama-ts-browser-kquants-'));
  const vocabulary = vocabularyFromSentencePieceModel(new Uint8Array(readFileSync(TOK512_MODEL)), TOK512_MODEL);
  writeFileSync(join(dir, 'q4_k_m.gguf'), modelToGGUF(model, { mixture: 'q4_k_m', vocabulary }));
  opened = await openPage('llamaRun', { dataDir: dir });
  page = opened.page;
}, 300_000);

afterAll(async () => {
  await opened?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function llamaRun(request: RunRequest, inWorker: boolean): Promise<RunResult> {
  return page.evaluate(
    ([r, w]) => (globalThis as unknown as { llamaRun(r: RunRequest, w: boolean): Promise<RunResult> }).llamaRun(r, w),
    [request, inWorker] as const,
  );
}

describe('a Q4_K_M GGUF quantized by llama-ts, in Chromium', () => {
  test('the file is the Q4_K_M mixture', () => {
    const w = loadModel(join(dir, 'q4_k_m.gguf')).model.weights;
    expect([w.output.dtype, w.tokenEmbedding.dtype]).toEqual(['q6_k', 'q4_k']);
    expect(w.layers.map((l) => [l.wq.dtype, l.wv.dtype, l.w2.dtype])).toEqual([['q4_k', 'q4_k', 'q4_k'], ['q4_k', 'q6_k', 'q6_k']]);
  });

  test('greedy on the page (1 thread) and in a Web Worker (2 threads) writes what Node writes', async () => {
    const llama = await loadLlama({ model: join(dir, 'q4_k_m.gguf'), threads: 1 }); // wasm, relaxed SIMD, as the page
    let text = REQUEST.prompt;
    let tokens = 0;
    try {
      for await (const chunk of llama.generateChunks(REQUEST.prompt, { maxTokens: REQUEST.maxTokens, temperature: 0 })) {
        if (!chunk.done) tokens++;
        text += chunk.text;
      }
    } finally {
      await llama.close();
    }
    expect(tokens).toBeGreaterThan(20); // (it may stop at the end-of-text token before maxTokens)
    expect(text.length).toBeGreaterThan(REQUEST.prompt.length + 20);

    const onPage = await llamaRun(REQUEST, false);
    expect(onPage).toMatchObject({ text, tokens, simd: 'relaxed', where: 'page', notes: [] });
    expect(onPage.weightTypes).toEqual(['q4_k', 'q6_k']); // run from the file's blocks
    const inWorker = await llamaRun({ ...REQUEST, threads: 2, minParallelWork: 0 }, true);
    expect(inWorker).toMatchObject({ text, tokens, threads: 2, where: 'worker', notes: [] });
    expect(inWorker.parallelJobs).toBeGreaterThan(0);
    expect(opened.pageErrors).toEqual([]);
  }, 300_000);
});
