// The training pictures: well-formed SVG whose lines are log.json's values, read back through
// the axes' tick labels; and `llama-ts train` writing all four next to the checkpoint.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { chartSvg, logTicks } from '../src/train/plot.js';
import { charts, CHART_FILES, type TrainLog } from '../src/train/report.js';
import { gradNormGroup } from '../src/train/step.js';
import { checkWellFormed, drawnPaths, valueAt, xTicks, yTicks } from './train-charts-helpers.js';
import { cli } from './train-cli-helpers.js';
import { corpusFile, tempDir, tok512 } from './train-loop-helpers.js';

// A made-up run of 40 steps, 2 layers: norms spread over decades, a warmup-cosine lr.
function fakeLog(): TrainLog {
  const steps = Array.from({ length: 40 }, (_, i) => {
    const step = i + 1;
    const groupGradNorms = [0.5 / step, 3 * Math.exp(-i / 10), 1 + (i % 3), 0.02 * step];
    return {
      step, loss: 7 - Math.log(step), lr: step <= 4 ? 1e-3 * (step / 4) : 1e-4 + 0.9e-3 * 0.5 * (1 + Math.cos((Math.PI * (step - 4)) / 36)),
      gradNorm: Math.hypot(...groupGradNorms), groupGradNorms, tokensPerSecond: 1000, elapsedSeconds: step,
    };
  });
  const evals = [10, 20, 30, 40].map((step) => ({ step, valLoss: 6 - step / 20, valPerplexity: Math.exp(6 - step / 20) }));
  return { gradNormGroups: ['tok_embeddings', 'layers.0', 'layers.1', 'output'], steps, evals };
}

describe('training charts', () => {
  const log = fakeLog();
  const svgs = charts(log);

  test('each picture is a well-formed SVG of sane size with a title and axis labels', () => {
    expect(Object.keys(svgs).sort()).toEqual([...CHART_FILES].sort());
    for (const [file, svg] of Object.entries(svgs)) {
      const names = checkWellFormed(svg);
      expect(names[0], file).toBe('svg');
      expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="720" height="420"/);
      expect(svg.length, file).toBeGreaterThan(1500);
      expect(svg.length, file).toBeLessThan(60_000);
      expect(yTicks(svg).size, file).toBeGreaterThanOrEqual(3);
      expect(xTicks(svg).get('40') ?? xTicks(svg).get('20'), file).toBeDefined();
    }
    expect(() => checkWellFormed('<svg><text>a & b</text></svg>')).toThrow(/bare &/);
    expect(() => checkWellFormed('<svg><g></svg>')).toThrow(/closes <g>/);
    expect(checkWellFormed(chartSvg([{ label: 'a <b> & "c"', color: '#000', points: [[1, 1]] }], { title: '<&>', yLabel: 'y' }))).toContain('circle');
  });

  test('the loss and learning-rate lines are log.json\'s values, step by step', () => {
    const loss = drawnPaths(svgs['loss.svg']);
    expect(loss.map((p) => p.label)).toEqual(['train', 'validation']);
    const ty = yTicks(svgs['loss.svg']);
    const tx = xTicks(svgs['loss.svg']);
    expect(loss[0].points).toHaveLength(40);
    loss[0].points.forEach(([x, y], i) => {
      expect(valueAt(ty, y)).toBeCloseTo(log.steps[i].loss, 2);
      expect(valueAt(tx, x)).toBeCloseTo(log.steps[i].step, 1);
    });
    expect(loss[1].points.map(([, y]) => valueAt(ty, y))).toEqual(log.evals.map((e) => expect.closeTo(e.valLoss, 2)));

    const lr = drawnPaths(svgs['lr.svg']);
    expect(lr).toHaveLength(1);
    const tl = yTicks(svgs['lr.svg']);
    expect([...tl.keys()]).toEqual(expect.arrayContaining(['0', '1e-3'])); // from 0; small values in exponent form
    lr[0].points.forEach(([, y], i) => expect(valueAt(tl, y) / log.steps[i].lr).toBeCloseTo(1, 2));
  });

  test('perplexity and gradient norms are on log axes: global and every part, from log.json', () => {
    const ppl = drawnPaths(svgs['perplexity.svg']);
    const tp = yTicks(svgs['perplexity.svg']);
    expect(ppl[0].points.map(([, y]) => valueAt(tp, y, true) / Math.exp(6))).toEqual(log.evals.map((e) => expect.closeTo(e.valPerplexity! / Math.exp(6), 2)));

    const svg = svgs['grad-norm.svg'];
    expect(svg).toContain('2-norm (log scale)');
    const paths = drawnPaths(svg);
    expect(paths.map((p) => p.label)).toEqual(['global', 'tok_embeddings', 'layers.0', 'layers.1', 'norm + output']);
    expect(new Set(paths.map((p) => p.color)).size).toBe(5);
    const tg = yTicks(svg);
    expect([...tg.keys()]).toEqual(expect.arrayContaining(['0.1', '1'])); // decades 0.0125 … 5
    paths.forEach((p, k) => {
      expect(p.points).toHaveLength(40);
      p.points.forEach(([, y], i) => {
        const want = k === 0 ? log.steps[i].gradNorm : log.steps[i].groupGradNorms![k - 1];
        expect(Math.log10(valueAt(tg, y, true))).toBeCloseTo(Math.log10(want), 2);
      });
    });
  });

  test('log ticks: linear within a decade, 1-2-5 within three, powers of ten beyond', () => {
    expect(logTicks(-1.1, 0.8).map((t) => Number((10 ** t).toPrecision(3)))).toEqual([0.1, 0.2, 0.5, 1, 2, 5]);
    expect(logTicks(-6.2, 2.3).map((t) => Math.round(t))).toEqual([-6, -4, -2, 0, 2]);
    expect(logTicks(Math.log10(20), Math.log10(30)).map((t) => Math.round(10 ** t))).toEqual([20, 22, 24, 26, 28, 30]);
    expect(logTicks(Math.log10(50), Math.log10(260)).map((t) => Math.round(10 ** t))).toEqual([50, 100, 150, 200, 250]);
    expect(gradNormGroup('layers.11.attention.wq.weight')).toBe('layers.11');
    expect(gradNormGroup('tok_embeddings.weight')).toBe('tok_embeddings');
    expect(gradNormGroup('norm.weight')).toBe('output');
  });
});

test('llama-ts train records per-part gradient norms and validation perplexity, and draws them', () => {
  const out = join(tempDir('charts'), 'run');
  const tiny = ['--dim', '32', '--layers', '2', '--heads', '4', '--kv-heads', '2', '--seq-len', '32', '--batch', '2'];
  const r = cli(['train', '--out', out, '--tokenizer', tok512, '--steps', '4', '--warmup', '2', '--eval-every', '2', '--eval-batches', '2', '--threads', '1', ...tiny, corpusFile(40)]);
  expect(r.status, r.stderr).toBe(0);
  const log = JSON.parse(readFileSync(join(out, 'log.json'), 'utf8')) as TrainLog;
  expect(log.gradNormGroups).toEqual(['tok_embeddings', 'layers.0', 'layers.1', 'output']);
  for (const s of log.steps) {
    expect(s.groupGradNorms).toHaveLength(4);
    for (const n of s.groupGradNorms!) expect(n).toBeGreaterThan(0);
    expect(Math.hypot(...s.groupGradNorms!) / s.gradNorm).toBeCloseTo(1, 5); // the parts make up the global norm
  }
  expect(log.evals.map((e) => e.step)).toEqual([2, 4]);
  for (const e of log.evals) expect(e.valPerplexity).toBeCloseTo(Math.exp(e.valLoss), 10);
  for (const file of CHART_FILES) {
    const svg = readFileSync(join(out, file), 'utf8');
    checkWellFormed(svg);
    expect(statSync(join(out, file)).size).toBeLessThan(60_000);
    expect(svg).toBe(charts(log)[file]); // drawn from what log.json holds
  }
  const g = drawnPaths(readFileSync(join(out, 'grad-norm.svg'), 'utf8'));
  expect(g.map((p) => p.points.length)).toEqual([4, 4, 4, 4, 4]);
  const lr = drawnPaths(readFileSync(join(out, 'lr.svg'), 'utf8'))[0].points.map(([, y]) => y);
  expect(lr[1]).toBeLessThan(lr[0]); // warmup: the lr rises (up is a smaller row) …
  expect(lr[3]).toBeGreaterThan(lr[1]); // … then decays
});
