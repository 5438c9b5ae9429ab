// The explorer page (web/explorer.html) in headless Chromium: it runs the default model out of
// the box, then stories260K given by URL; generated from the keyboard, its views hold the
// numbers Node's reference computes for the same tokens (probabilities, attention rows,
// the logit lens), hovering a token shows its step's alternatives, every control has a label.
// Screenshots of each view are written to web/screenshots/ (the README shows them) and
// checked to be real pictures of the views' size.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { explainStep } from '../src/explain/index.js';
import { loadModel } from '../src/formats/load-file.js';
import { topProbabilities } from '../src/generate/sampler.js';
import { anyTokenizerFromBytes } from '../src/tokenizer/any-tokenizer.js';
import { openPage, type OpenPage } from './browser-helpers.js';

const SHOTS = fileURLToPath(new URL('../web/screenshots/', import.meta.url));
const DATA = '../shared/data/stories260K/';
const QUERY = '?model=data/stories260K/stories260K.bin&tokenizer=data/stories260K/tok512.bin&prompt=Once%20upon%20a%20time';
const { model } = loadModel(DATA + 'stories260K.bin');
const tokenizer = anyTokenizerFromBytes(readFileSync(DATA + 'tok512.bin'), 'tok512.bin');

interface ExplorerState { tokens: number[]; promptLength: number; sampled: number; busy: boolean; ended: boolean }

let opened: OpenPage;
let page: Page;

const explorerState = (): Promise<ExplorerState> => page.evaluate(() => (globalThis as unknown as { explorer: { state(): ExplorerState } }).explorer.state());
const waitForStep = (n: number): Promise<unknown> => page.waitForFunction((k) => document.getElementById('status')!.textContent!.startsWith(`step ${k}:`), n, { timeout: 60_000 });

beforeAll(async () => {
  opened = await openPage('explorer', { path: 'explorer.html' });
  page = opened.page;
  await page.setViewportSize({ width: 1280, height: 900 });
}, 300_000);

afterAll(async () => {
  await opened?.close();
});

// A PNG's size from its header, and whether its pixels are not all one value.
function png(bytes: Buffer): { width: number; height: number; varied: boolean } {
  expect(bytes.subarray(0, 8)).toEqual(Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]));
  const idat: Buffer[] = [];
  for (let o = 8; o < bytes.length;) {
    const len = bytes.readUInt32BE(o);
    if (bytes.toString('latin1', o + 4, o + 8) === 'IDAT') idat.push(bytes.subarray(o + 8, o + 8 + len));
    o += len + 12;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const width = bytes.readUInt32BE(16);
  const rowBytes = raw.length / bytes.readUInt32BE(20) - 1; // each row: a filter byte, then pixels
  const first = raw.subarray(1, 1 + rowBytes);
  const varied = new Set(first).size > 2 || raw.some((b, i) => i % (rowBytes + 1) !== 0 && b !== raw[1 + ((i % (rowBytes + 1)) - 1)]);
  return { width, height: bytes.readUInt32BE(20), varied };
}

describe('the explorer page', () => {
  test('runs the default model (models/kjv.gguf) out of the box', async () => {
    await waitForStep(0);
    const s = await explorerState();
    expect(s.tokens.length).toBeGreaterThan(3);
    expect(await page.locator('#layer option').count()).toBe(6); // kjv: 6 layers, 8 heads
    expect(await page.locator('#head option').count()).toBe(8);
  });

  test('stories260K from the URL, generated from the keyboard: the greedy story, the right numbers in every view', async () => {
    await page.goto(new URL('explorer.html' + QUERY, opened.url).href);
    await waitForStep(0);
    // keyboard only: temperature to 0 (greedy), then "next token" three times
    await page.focus('#temperature');
    await page.keyboard.press('Home');
    expect(await page.inputValue('#temperature')).toBe('0');
    expect(await page.textContent('#temperature-out')).toBe('0');
    await page.focus('#next');
    for (let n = 1; n <= 3; n++) {
      await page.keyboard.press('Enter');
      await waitForStep(n);
      await page.waitForFunction(() => !(document.getElementById('next') as HTMLButtonElement).disabled);
    }
    const s = await explorerState();
    const prompt = tokenizer.encode('Once upon a time', { bos: true });
    expect(s.tokens.slice(0, s.promptLength)).toEqual(prompt);
    // Node's reference for the same tokens
    const step = explainStep(model, s.tokens);
    const greedy = [...prompt];
    for (let n = 0; n < 3; n++) greedy.push(topProbabilities(explainStep(model, greedy).logits, 1)[0].token);
    expect(s.tokens).toEqual(greedy);

    // the distribution: the probabilities shown are the model's for this step
    const shown = await page.$$eval('#view-distribution g.bar', (gs) => gs.map((g) => [Number((g as HTMLElement).dataset.token), Number((g as HTMLElement).dataset.prob)]));
    const top = topProbabilities(step.logits, shown.length);
    expect(shown.map(([t]) => t)).toEqual(top.map((a) => a.token));
    shown.forEach(([, p], i) => expect(p).toBeCloseTo(top[i].prob, 6));
    expect(s.sampled).toBe(top[0].token);

    // attention: pick layer 2, head 3 from the keyboard; each row sums to 1 and is the reference's
    await page.selectOption('#layer', '2');
    await page.selectOption('#head', '3');
    const T = s.tokens.length;
    const rows = await page.$$eval('#view-attention .heatmap g.row', (gs) => gs.map((g) => Array.from(g.querySelectorAll('rect')).map((r) => Number(r.dataset.p))));
    expect(rows.length).toBe(T);
    rows.forEach((row, t) => {
      expect(row.length).toBe(t + 1);
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      row.forEach((p, j) => expect(p).toBeCloseTo(step.attention[2][(3 * T + t) * T + j], 6));
    });
    expect(await page.textContent('#view-attention')).toContain('Head 3 reads key/value head 1, shared with query heads 2, 3');
    expect(await page.locator('#view-heads fieldset.kv-group').count()).toBe(4);

    // the logit lens: its last row is the model's prediction at every position
    const lastRow = await page.$$eval('table.lens tr[data-row="5"] td', (tds) => tds.map((td) => Number((td as HTMLElement).dataset.token)));
    expect(lastRow).toEqual(Array.from(step.lens[5].token));
    expect(lastRow[T - 1]).toBe(top[0].token);

    // internals at a position, and the code behind a view
    await page.selectOption('#position', '2');
    expect(await page.textContent('#view-rope h2')).toContain('RoPE at position 2');
    expect(await page.textContent('#view-rmsnorm .sources')).toContain('computed by rmsnorm in reference/rmsnorm.ts');
    await page.click('#view-attention details.source summary');
    expect(await page.locator('#view-attention details.source pre').first().textContent()).toContain('export function attentionWeights(');
    expect(opened.pageErrors).toEqual([]);
  }, 120_000);

  test('hover or focus on a generated token shows the top alternatives of its step', async () => {
    const s = await explorerState();
    const i = s.promptLength + 1; // the second generated token
    await page.hover(`#text .tok[data-index="${i}"]`);
    await page.waitForSelector('#tooltip:not([hidden])');
    const alts = await page.$$eval('#tooltip g.bar', (gs) => gs.map((g) => [Number((g as HTMLElement).dataset.token), Number((g as HTMLElement).dataset.prob)]));
    const expected = topProbabilities(explainStep(model, s.tokens.slice(0, i)).logits, 8);
    expect(alts.map(([t]) => t)).toEqual(expected.map((a) => a.token));
    alts.forEach(([, p], k) => expect(p).toBeCloseTo(expected[k].prob, 6));
    await page.mouse.move(0, 0);
    await page.focus(`#text .tok[data-index="${i}"]`); // the keyboard's way
    expect(await page.isVisible('#tooltip')).toBe(true);
  });

  test('a model URL that does not exist is a clear error on the page', async () => {
    await page.goto(new URL('explorer.html?model=data/nope.gguf', opened.url).href);
    await page.waitForFunction(() => document.getElementById('status')!.textContent!.startsWith('error:'), undefined, { timeout: 30_000 });
    expect(await page.textContent('#status')).toBe('error: data/nope.gguf: HTTP 404');
    await page.goto(new URL('explorer.html' + QUERY, opened.url).href); // back to the story for the tests below
    await waitForStep(0);
    await page.focus('#temperature');
    await page.keyboard.press('Home'); // greedy again
    await page.evaluate(() => (globalThis as unknown as { explorer: { next(n: number): Promise<void> } }).explorer.next(3));
    await waitForStep(3);
  });

  test('every control has a label and is reachable with Tab', async () => {
    const unlabeled = await page.$$eval('input, select, button', (els) => els.filter((el) => {
      const e = el as HTMLInputElement;
      return !(e.labels?.length || e.getAttribute('aria-label') || (e.tagName === 'BUTTON' && e.textContent?.trim()));
    }).map((e) => e.id || e.outerHTML.slice(0, 60)));
    expect(unlabeled).toEqual([]);
    await page.focus('#prompt');
    const reached: string[] = [];
    for (let k = 0; k < 14; k++) {
      await page.keyboard.press('Tab');
      reached.push(await page.evaluate(() => document.activeElement?.id ?? ''));
    }
    for (const id of ['start', 'next', 'next10', 'temperature', 'top-k', 'top-p', 'min-p', 'seed', 'layer', 'head', 'position', 'log-scale']) expect(reached).toContain(id);
  });

  test('screenshots of each view: real pictures of the view\'s size (web/screenshots/, shown in the README)', async () => {
    mkdirSync(SHOTS, { recursive: true });
    await page.selectOption('#position', String((await explorerState()).tokens.length - 1));
    // sampling that reshapes, set from the keyboard: temperature 0.8, top-k 8
    await page.focus('#temperature');
    await page.keyboard.press('Home');
    for (let k = 0; k < 16; k++) await page.keyboard.press('ArrowRight');
    await page.focus('#top-k');
    await page.keyboard.press('Home');
    for (let k = 0; k < 8; k++) await page.keyboard.press('ArrowRight');
    expect([await page.inputValue('#temperature'), await page.inputValue('#top-k')]).toEqual(['0.8', '8']);
    expect(await page.locator('#view-distribution g.bar.dropped').last().textContent()).toContain('cut by top-k'); // rank 12 of 12 shown
    expect(await page.isVisible('#tooltip')).toBe(false);
    for (const view of ['distribution', 'attention', 'heads', 'lens', 'rmsnorm', 'rope', 'swiglu', 'residual']) {
      const el = page.locator(`#view-${view}`);
      const box = (await el.boundingBox())!;
      const bytes = await el.screenshot({ path: join(SHOTS, `${view}.png`), animations: 'disabled' });
      const p = png(bytes);
      expect(Math.abs(p.width - box.width)).toBeLessThan(2); // (edges at fractional pixels round outward)
      expect(Math.abs(p.height - box.height)).toBeLessThan(2);
      expect(p.width).toBeGreaterThan(200);
      expect(p.varied).toBe(true);
    }
    // the page as a reader first sees it: controls, the text, the distribution
    await page.evaluate(() => window.scrollTo(0, 0));
    const whole = png(await page.screenshot({ path: join(SHOTS, 'page.png') }));
    expect(whole).toEqual({ width: 1280, height: 900, varied: true });
  });
});
