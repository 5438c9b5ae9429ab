// The WebGPU backend in a real browser: the page (web/, built by web/build.mjs) in Debian's
// Chromium headless with WebGPU on SwiftShader (its CPU Vulkan), through playwright-core, as
// tests/browser.test.ts does for WASM. stories260K, greedy, must print run.c's story.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { RunRequest, RunResult } from '../web/run.js';
import { openPage, STORY, type OpenPage } from './browser-helpers.js';

// WebGPU without a GPU: the flags that give Chromium a SwiftShader adapter.
const WEBGPU_FLAGS = ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-angle=swiftshader', '--use-webgpu-adapter=swiftshader'];

let opened: OpenPage;
let page: Page;

beforeAll(async () => {
  opened = await openPage('llamaRun', { flags: WEBGPU_FLAGS });
  page = opened.page;
}, 300_000);

afterAll(async () => {
  await opened?.close();
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
