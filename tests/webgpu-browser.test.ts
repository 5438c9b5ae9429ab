// The WebGPU backend in a real browser: the page (web/, built by web/build.mjs) in Debian's
// Chromium headless with WebGPU on SwiftShader (its CPU Vulkan), through playwright-core, as
// tests/browser.test.ts does for WASM. stories260K, greedy, must print run.c's story.
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildWeb } from '../web/build.mjs';
import type { RunRequest, RunResult } from '../web/run.js';
import { serve } from '../web/serve.mjs';

// WebGPU without a GPU: the flags that give Chromium a SwiftShader adapter.
const WEBGPU_FLAGS = ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-angle=swiftshader', '--use-webgpu-adapter=swiftshader'];
const STORY =
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.\nLily';

let browser: Browser;
let page: Page;
let server: Awaited<ReturnType<typeof serve>>;

beforeAll(async () => {
  await buildWeb();
  server = await serve();
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-dev-shm-usage', ...WEBGPU_FLAGS] });
  page = await browser.newPage();
  await page.goto(server.url);
  await page.waitForFunction(() => 'llamaRun' in globalThis);
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('the WebGPU backend in Chromium', () => {
  test("stories260K on the page's GPU, greedy: run.c's story", async () => {
    const request: RunRequest = {
      modelUrl: 'data/stories260K/stories260K.bin', tokenizerUrl: 'data/stories260K/tok512.bin',
      prompt: 'Once upon a time', maxTokens: 60, temperature: 0, threads: 1, backend: 'webgpu',
    };
    const r = await page.evaluate(
      (req) => (globalThis as unknown as { llamaRun(r: RunRequest, w: boolean): Promise<RunResult> }).llamaRun(req, false),
      request,
    );
    expect(r).toMatchObject({ text: STORY, where: 'page', simd: 'none' });
    expect(r.backend).toMatch(/^webgpu \(/);
  }, 400_000);
});
