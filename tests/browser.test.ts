// The WASM backend in a real browser: builds the page (web/build.mjs → build/web/), serves
// it and ../shared/data/ cross-origin isolated (web/serve.mjs), and drives Debian's
// Chromium headless through playwright-core. The page's window.llamaRun runs stories260K
// on the page's main thread or inside a Web Worker, whose kernel workers are then nested
// workers (pool.ts). Needs /usr/bin/chromium (.ci/run installs it); there is no skip.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadLlama } from '../src/llama.js';
import { outDir } from '../web/build.mjs';
import type { RunRequest, RunResult } from '../web/run.js';
import { openPage, STORY, type OpenPage } from './browser-helpers.js';

const STORY_BIN: RunRequest = {
  modelUrl: 'data/stories260K/stories260K.bin',
  tokenizerUrl: 'data/stories260K/tok512.bin',
  prompt: 'Once upon a time',
  maxTokens: 60,
  temperature: 0,
  threads: 1,
};

let opened: OpenPage;
let page: Page;

beforeAll(async () => {
  opened = await openPage('llamaRun');
  page = opened.page;
}, 300_000);

afterAll(async () => {
  await opened?.close();
});

// Runs a request in the page, on its main thread or in a model worker.
function llamaRun(request: RunRequest, inWorker: boolean): Promise<RunResult> {
  return page.evaluate(
    ([r, w]) => (globalThis as unknown as { llamaRun(r: RunRequest, w: boolean): Promise<RunResult> }).llamaRun(r, w),
    [request, inWorker] as const,
  );
}

describe('the WASM backend in Chromium', () => {
  test('the bundles import no node: module statically; both builds and the worker sit beside them', () => {
    for (const bundle of ['app.js', 'model-worker.js']) {
      const code = readFileSync(join(outDir, bundle), 'utf8');
      expect(code).not.toMatch(/^\s*import\b[^(]*["']node:/m); // only import('node:…'), run behind isNode()
      expect(code).toMatch(/import\("node:v8"\)/); // (the relaxed-SIMD flag, in Node)
    }
    for (const asset of ['kernels.wasm', 'kernels-relaxed.wasm', 'wasm-worker.mjs']) {
      expect(readFileSync(join(outDir, asset)).byteLength).toBeGreaterThan(1000);
    }
  });

  test("the package's browser entry (dist/browser.js, `llama-ts/browser`) likewise, its assets beside it", () => {
    const dist = fileURLToPath(new URL('../dist/', import.meta.url)); // made by `npm run build`, which `npm test` runs first
    const code = readFileSync(join(dist, 'browser.js'), 'utf8');
    expect(code).not.toMatch(/^\s*import\b[^(]*["']node:/m);
    expect(code).not.toMatch(/import\(["'](fs|url|v8|worker_threads)["']\)/); // the prefix kept: no bundler looks for npm "fs"
    for (const asset of ['kernels.wasm', 'kernels-relaxed.wasm', 'wasm-worker.mjs']) {
      expect(readFileSync(join(dist, asset)).byteLength).toBeGreaterThan(1000);
    }
  });

  test('the page is cross-origin isolated (SharedArrayBuffer exists)', async () => {
    expect(await page.evaluate(() => [crossOriginIsolated, typeof SharedArrayBuffer])).toEqual([true, 'function']);
  });

  test('stories260K.bin + tok512.bin, greedy, on the page: the run.c story, with the relaxed-SIMD build', async () => {
    const r = await llamaRun(STORY_BIN, false);
    expect(r.text).toBe(STORY);
    expect(r.tokens).toBe(60);
    expect(r).toMatchObject({ where: 'page', threads: 1, simd: 'relaxed', parallelJobs: 0 });
  });

  test('2 threads inside a Web Worker (nested kernel workers) give the same story, every matmul split', async () => {
    const r = await llamaRun({ ...STORY_BIN, threads: 2, minParallelWork: 0 }, true);
    expect(r.text).toBe(STORY);
    expect(r).toMatchObject({ where: 'worker', threads: 2, simd: 'relaxed' });
    // 60 forward passes, each with 5 layers × 7 matmuls + the classifier, all split
    expect(r.parallelJobs).toBeGreaterThanOrEqual(60 * 36);
  });

  test('1 thread inside a Web Worker, and the GGUF with its own vocabulary, give the same story', async () => {
    const r = await llamaRun(STORY_BIN, true);
    expect(r).toMatchObject({ text: STORY, where: 'worker', threads: 1, simd: 'relaxed' });
    const gguf = await llamaRun({ ...STORY_BIN, modelUrl: 'data/stories260K/stories260K.gguf', tokenizerUrl: undefined, threads: 2 }, true);
    expect(gguf).toMatchObject({ text: STORY, threads: 2 });
  });

  test('the plain SIMD build when asked for, with the same story', async () => {
    const r = await llamaRun({ ...STORY_BIN, simd: 'plain' }, false);
    expect(r).toMatchObject({ text: STORY, simd: 'plain' });
  });

  test("the page's default, the embedded models/kjv.gguf (served at /models/), writes what Node writes", async () => {
    const request = { modelUrl: 'models/kjv.gguf', prompt: 'In the beginning', maxTokens: 24, temperature: 0, threads: 1 };
    const r = await llamaRun(request, false);
    const llama = await loadLlama({ threads: 1 }); // the same model, relaxed SIMD in Node too
    let text = request.prompt;
    for await (const piece of llama.generate(request.prompt, { maxTokens: 24, temperature: 0 })) text += piece;
    await llama.close();
    expect(r).toMatchObject({ text, tokens: 24, simd: 'relaxed' });
  });

  test("threads > 1 on the page's main thread is a clear error", async () => {
    await expect(llamaRun({ ...STORY_BIN, threads: 2 }, false)).rejects.toThrow(/threads > 1 cannot run on a browser page's main thread.*Web Worker/);
    expect(opened.pageErrors).toEqual([]);
  });
});
