// src/explain: one step of stories260K explained, checked against the reference forward
// pass's own trace and the sampler: attention rows sum to 1 and reproduce the traced
// attention output, the logit lens' last row is the real prediction, the reshaped
// distribution is what Sampler draws from, and the views carry those numbers.
import { describe, expect, test } from 'vitest';
import { createKVCache, forward } from '../reference/model.js';
import { Rng } from '../reference/random.js';
import { tsKernels } from '../reference/ts-kernels.js';
import { explainStep, reshape, functionSource, VIEW_SOURCES, attentionView, lensView, distributionView, explainReport } from '../src/explain/index.js';
import { rmsnormView, ropeView, swigluView, residualView } from '../src/explain/internals.js';
import { loadModel } from '../src/formats/load-file.js';
import { Sampler, topProbabilities } from '../src/generate/sampler.js';
import { tokenizerFromGGUF } from '../src/tokenizer/any-tokenizer.js';

const PATH = '../shared/data/stories260K/stories260K.gguf';
const { model, gguf } = loadModel(PATH);
const tokenizer = tokenizerFromGGUF(gguf!.metadata, PATH);
const tokens = tokenizer.encode('Once upon a time, there was a little girl', { bos: true });
const step = explainStep(model, tokens);
const ctx = { step, piece: (t: number) => tokenizer.decode([t]) };
const T = tokens.length;
const { nHeads, nKvHeads, headDim: hd, vocabSize: V } = step.shape;

// The reference forward pass's own trace, for comparison.
const trace = new Map<string, Float32Array>();
const logits = forward(model, tsKernels, createKVCache(model.config, T), tokens, 0, { allLogits: true, trace: (n, d) => trace.set(n, d.slice()) });

describe('explainStep on stories260K', () => {
  test('the step holds the real prediction: the last row of the logits', () => {
    expect(step.shape).toMatchObject({ nLayers: 5, nHeads: 8, nKvHeads: 4, headDim: 8 });
    expect(step.logits).toEqual(logits.slice((T - 1) * V));
  });

  test('every attention row sums to 1, is causal, and with v reproduces the traced attention output', () => {
    for (let l = 0; l < step.shape.nLayers; l++) {
      const att = step.attention[l];
      const v = trace.get(`layers.${l}.v`)!;
      const out = trace.get(`layers.${l}.attn`)!;
      for (let h = 0; h < nHeads; h++) {
        const kv = Math.floor(h / (nHeads / nKvHeads));
        for (let t = 0; t < T; t++) {
          const row = att.subarray((h * T + t) * T, (h * T + t + 1) * T);
          expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
          for (let s = t + 1; s < T; s++) expect(row[s]).toBe(0);
          for (let i = 0; i < hd; i++) {
            let acc = 0;
            for (let s = 0; s <= t; s++) acc += row[s] * v[s * nKvHeads * hd + kv * hd + i];
            expect(acc).toBeCloseTo(out[t * nHeads * hd + h * hd + i], 5);
          }
        }
      }
    }
  });

  test("the logit lens' last row is the model's prediction at every position; earlier rows differ somewhere", () => {
    const last = step.lens[step.lens.length - 1];
    expect(step.lens.map((r) => r.label)).toEqual(['embedding', 'layer 0', 'layer 1', 'layer 2', 'layer 3', 'layer 4']);
    for (let t = 0; t < T; t++) {
      const row = logits.subarray(t * V, (t + 1) * V);
      const top = topProbabilities(row, 1)[0];
      expect(last.token[t]).toBe(top.token);
      expect(last.prob[t]).toBeCloseTo(top.prob, 6);
    }
    expect(step.lens[1].token).not.toEqual(last.token);
  });

  test('reshape: the candidates the sampler keeps, and the token it draws with the same uniform', () => {
    const settings = { temperature: 0.8, topK: 20, topP: 0.9, minP: 0.05 };
    const r = reshape(step.logits, settings, 0.37, 30);
    const model = topProbabilities(step.logits, 30);
    expect(r.rows.map((x) => x.token)).toEqual(model.map((m) => m.token));
    r.rows.forEach((x, i) => expect(x.modelProb).toBeCloseTo(model[i].prob, 6));
    expect(r.rows.slice(20).every((x) => x.droppedBy === 'top-k')).toBe(true);
    const kept = r.rows.filter((x) => !x.droppedBy);
    expect(kept.length).toBe(r.kept);
    expect(kept.reduce((a, x) => a + x.finalProb, 0)).toBeCloseTo(1, 6);
    // Sampler draws the same token as reshape for every seed's first uniform
    for (let seed = 1; seed <= 20; seed++) {
      const drawn = new Sampler({ ...settings, seed }).sample(step.logits.slice());
      expect(reshape(step.logits, settings, new Rng(seed).nextFloat()).sampled).toBe(drawn);
    }
    expect(reshape(step.logits, { ...settings, temperature: 0 }, 0.5).sampled).toBe(model[0].token);
    expect(() => reshape(step.logits, { ...settings, topP: 0 }, 0.5)).toThrow(/top-p must be in \(0, 1\]/);
  });
});

describe('views', () => {
  test("each view names the functions that computed it, with their code", () => {
    expect(functionSource('reference/attention.ts', 'attentionWeights')).toMatch(/^\/\/ The attention weights[\s\S]*softmax\(scores, visible\);\n}$/);
    for (const refs of Object.values(VIEW_SOURCES)) for (const r of refs) expect(functionSource(r.file, r.fn)).toContain(`function ${r.fn}`);
    expect(() => functionSource('reference/rope.ts', 'nothing')).toThrow(/no exported function nothing/);
    expect(attentionView(ctx, 2, 3, false)).toContain('computed by <code>attentionWeights</code> in <code>reference/attention.ts</code>');
  });

  test('the attention view carries the weights of the chosen head, and names its shared KV head', () => {
    const html = attentionView(ctx, 2, 3, true);
    expect(html).toContain('Head 3 reads key/value head 1, shared with query heads 2, 3');
    const cells = [...html.matchAll(/data-p="([^"]+)"/g)].map((m) => Number(m[1]));
    expect(cells.length).toBe((T * (T + 1)) / 2); // the causal triangle
    expect(cells[0]).toBe(1); // position 0 sees only itself
    expect(() => attentionView(ctx, 5, 0, false)).toThrow(/layer must be an integer in 0..4, got 5/);
  });

  test('the lens table and the distribution hold the step\'s numbers', () => {
    const lens = lensView(ctx);
    const last = step.lens[5];
    expect(lens).toContain(`data-token="${last.token[T - 1]}" data-prob="${last.prob[T - 1]}"`);
    const d = distributionView(ctx, { temperature: 0, topK: 0, topP: 1, minP: 0 }, 0.5);
    expect(d.sampled).toBe(last.token[T - 1]);
    const shown = new RegExp(`data-token="${d.sampled}" data-prob="([^"]+)"`).exec(d.html)!;
    expect(Number(shown[1])).toBeCloseTo(topProbabilities(step.logits, 1)[0].prob, 12);
  });

  test('internals: RMSNorm scale, RoPE angles, SwiGLU gate, residual norms', () => {
    const pos = T - 1;
    const x = step.residual[1].subarray(pos * 64, (pos + 1) * 64);
    const rms = Math.sqrt(x.reduce((a, v) => a + v * v, 0) / 64 + step.shape.normEps);
    const scale = Number(/data-scale="([^"]+)"/.exec(rmsnormView(ctx, 1, pos))![1]);
    expect(scale).toBeCloseTo(1 / rms, 5);
    const angles = [...ropeView(ctx, pos).matchAll(/data-angle="([^"]+)"/g)].map((m) => Number(m[1]));
    expect(angles).toEqual(Array.from({ length: hd / 2 }, (_, i) => pos * Math.pow(10000, (-2 * i) / hd)));
    expect([...swigluView(ctx, 0, pos).matchAll(/data-unit=/g)].length).toBe(step.shape.hiddenDim);
    const norms = /data-norms="([^"]+)"/.exec(residualView(ctx, pos))![1].split(',').map(Number);
    expect(norms.length).toBe(11);
    const out4 = trace.get('layers.4.out')!.subarray(pos * 64, (pos + 1) * 64);
    expect(norms[10]).toBeCloseTo(Math.hypot(...out4), 3);
  });

  test('the report is one self-contained HTML file: every view, inline SVG, nothing fetched, no script', () => {
    const html = explainReport(ctx);
    for (const view of ['distribution', 'attention', 'attention-log', 'heads', 'lens', 'rmsnorm', 'rope', 'swiglu', 'residual']) expect(html).toContain(`id="view-${view}"`);
    expect(html).not.toMatch(/<script|<link|<img|src=|href=|url\(/i);
    expect(html.match(/<svg /g)!.length).toBeGreaterThan(10);
  });
});
