// The views of one step as HTML with inline SVG: the next-token distribution and how the
// sampling settings reshape it, attention of one head and of all heads of a layer, and the
// logit lens. Strings, so the explorer page (web/explorer.ts) and `llama-ts explain`'s
// report (report.ts) show the same thing; data-* attributes carry the exact numbers.
import { topProbabilities } from '../generate/sampler.js';
import { reshape, type SamplingSettings } from './sampling.js';
import { functionSource, VIEW_SOURCES, type ViewName } from './sources.js';
import type { ExplainStep } from './step.js';
import { bars, esc, fmt, heatmap, level, shade } from './svg.js';

export interface ViewContext {
  step: ExplainStep;
  piece: (token: number) => string; // a token's text, as the tokenizer decodes it alone
}

// A token's text with its blanks made visible (a leading space matters in these vocabularies).
export function showPiece(text: string): string {
  return text.replace(/ /g, '␣').replace(/\n/g, '↵').replace(/\t/g, '⇥') || '∅';
}

export function section(view: ViewName, title: string, explanation: string, body: string): string {
  return `<section class="view" id="view-${view}" data-view="${view}"><h2>${esc(title)}</h2><p class="explain">${explanation}</p>` +
    `<div class="figure">${body}</div>${sourcesOf(view)}</section>`;
}

// The functions that computed a view, each in a <details> a reader opens when they want it.
export function sourcesOf(view: ViewName): string {
  return `<div class="sources">${VIEW_SOURCES[view].map(({ file, fn }) =>
    `<details class="source" data-file="${esc(file)}" data-fn="${esc(fn)}"><summary>computed by <code>${esc(fn)}</code> in <code>${esc(file)}</code></summary><pre><code>${esc(functionSource(file, fn))}</code></pre></details>`,
  ).join('')}</div>`;
}

export function distributionView(ctx: ViewContext, settings: SamplingSettings, u: number, show = 12): { html: string; sampled: number } {
  const r = reshape(ctx.step.logits, settings, u, show);
  const rows = r.rows.map((row) => ({
    label: showPiece(ctx.piece(row.token)),
    value: row.finalProb,
    back: row.modelProb,
    text: `${(row.modelProb * 100).toFixed(1)}% → ${row.droppedBy ? `cut by ${row.droppedBy}` : `${(row.finalProb * 100).toFixed(1)}%`}`,
    cls: `${row.token === r.sampled ? 'sampled' : ''} ${row.droppedBy ? 'dropped' : ''}`,
    data: { token: row.token, prob: row.modelProb, final: row.finalProb },
  }));
  const greedy = settings.temperature === 0;
  const explanation =
    'The model ends each step with one score (logit) per vocabulary token; softmax turns them into probabilities ' +
    '(light bars). The sampler then reshapes them: temperature divides the logits (below 1 sharpens, above 1 flattens), ' +
    'top-k keeps the k most likely, top-p the smallest set reaching p, min-p drops tokens below p × the top one; ' +
    `the rest is renormalized (dark bars) and one token is drawn (red). ${greedy ? 'Temperature 0 is greedy: the most likely token always wins. ' : ''}` +
    `Here ${r.kept} token${r.kept === 1 ? '' : 's'} of ${ctx.step.shape.vocabSize} can be drawn; the draw picked <b class="sampled-piece">${esc(showPiece(ctx.piece(r.sampled)))}</b>.`;
  const title = `Next token after position ${ctx.step.tokens.length - 1}`;
  return { html: section('distribution', title, explanation, bars(rows, { max: Math.max(...r.rows.map((x) => Math.max(x.finalProb, x.modelProb))), width: 600, textWidth: 130, title: 'next-token probabilities' })), sampled: r.sampled };
}

// The top-K alternatives of a step's logits, as a small bar list (hover on a generated token).
export function alternativesHtml(logits: Float32Array, chosen: number, piece: (t: number) => string, k = 8): string {
  const rows = topProbabilities(logits, k).map((a) => ({
    label: showPiece(piece(a.token)), value: a.prob, text: `${(a.prob * 100).toFixed(1)}%`, cls: a.token === chosen ? 'sampled' : '', data: { token: a.token, prob: a.prob },
  }));
  return bars(rows, { max: 1, width: 300, labelWidth: 90, title: 'alternatives' });
}

function positionLabels(ctx: ViewContext): string[] {
  return ctx.step.tokens.map((t, i) => `${i} ${showPiece(ctx.piece(t))}`);
}

// The query heads that share head h's key/value head.
export function kvGroup(step: ExplainStep, h: number): { kv: number; heads: number[] } {
  const group = step.shape.nHeads / step.shape.nKvHeads;
  const kv = Math.floor(h / group);
  return { kv, heads: Array.from({ length: group }, (_, i) => kv * group + i) };
}

export function attentionView(ctx: ViewContext, layer: number, head: number, log: boolean): string {
  const { step } = ctx;
  const T = step.tokens.length;
  check(layer, step.shape.nLayers, 'layer');
  check(head, step.shape.nHeads, 'head');
  const m = step.attention[layer].subarray(head * T * T, (head + 1) * T * T);
  const labels = positionLabels(ctx);
  const g = kvGroup(step, head);
  const cell = Math.max(6, Math.min(16, Math.floor(520 / T)));
  const map = heatmap(m, T, T, { rowLabels: labels, colLabels: labels, cell, log, mask: (r, c) => c > r, dataName: 'p', title: `attention of layer ${layer}, head ${head}` });
  const explanation =
    `Each row is a position asking "which earlier positions matter to me?"; its cells are the softmax weights over positions 0..t ` +
    `(causal: nothing after t), each row summing to 1. Head ${head} reads key/value head ${g.kv}` +
    (g.heads.length > 1 ? `, shared with query heads ${g.heads.join(', ')} (grouped-query attention)` : '') +
    '. ' + (log
      ? `Log scale (white below ${LOG_TEXT}): small weights show, and the first token's column, the attention sink where heads park weight they do not need, stands out.`
      : 'Linear scale; switch to log to see the small weights (the first token often acts as an attention sink).');
  return section('attention', `Attention: layer ${layer}, head ${head}`, explanation, `<div class="heatmap" data-layer="${layer}" data-head="${head}">${map}</div>`);
}

const LOG_TEXT = '10⁻⁴';

// Every head of a layer in small, grouped by the key/value head they share.
export function headsGridView(ctx: ViewContext, layer: number, log: boolean, selected = -1): string {
  const { step } = ctx;
  const T = step.tokens.length;
  check(layer, step.shape.nLayers, 'layer');
  const cell = Math.max(2, Math.min(6, Math.floor(120 / T)));
  const groups: string[] = [];
  for (let kv = 0; kv < step.shape.nKvHeads; kv++) {
    const heads = kvGroup(step, kv * (step.shape.nHeads / step.shape.nKvHeads)).heads;
    const cells = heads.map((h) => {
      const m = step.attention[layer].subarray(h * T * T, (h + 1) * T * T);
      return `<button type="button" class="head${h === selected ? ' selected' : ''}" data-head="${h}" aria-label="layer ${layer} head ${h}">` +
        `${heatmap(m, T, T, { cell, log, mask: (r, c) => c > r, dataName: 'p' })}<span>head ${h}</span></button>`;
    }).join('');
    groups.push(`<fieldset class="kv-group" data-kv="${kv}"><legend>KV head ${kv}</legend>${cells}</fieldset>`);
  }
  const explanation = step.shape.nKvHeads < step.shape.nHeads
    ? `All ${step.shape.nHeads} heads of layer ${layer}. Heads in one box share a key/value head (${step.shape.nHeads / step.shape.nKvHeads} query heads per KV head), so they look at the same keys with different questions. Averaging heads would wash these patterns out: each has its own.`
    : `All ${step.shape.nHeads} heads of layer ${layer}, each with its own keys and values. Averaging heads would wash these patterns out: each has its own.`;
  return section('attention', `All heads of layer ${layer}`, explanation, `<div class="heads-grid">${groups.join('')}</div>`).replace('id="view-attention"', 'id="view-heads"');
}

export function lensView(ctx: ViewContext): string {
  const { step } = ctx;
  const head = `<tr><th scope="col">stream after</th>${step.tokens.map((t, i) => `<th scope="col" title="position ${i}">${esc(showPiece(ctx.piece(t)))}</th>`).join('')}</tr>`;
  const rows = step.lens.map((row, l) => `<tr data-row="${l}"><th scope="row">${esc(row.label)}</th>${Array.from(row.token, (tok, t) => {
    const p = row.prob[t];
    const dark = level(p, false) > 0.55;
    return `<td style="background:${shade(p)};${dark ? 'color:#fff' : ''}" data-token="${tok}" data-prob="${p}" title="${esc(`${showPiece(ctx.piece(tok))} ${fmt(p * 100, 3)}%`)}">${esc(showPiece(ctx.piece(tok)))}</td>`;
  }).join('')}</tr>`).join('');
  const explanation =
    'What the model would predict if it stopped early: each row puts the residual stream after that layer through the final RMSNorm and the classifier, ' +
    'and shows the most likely next token at each position (darker: more probable). Columns are the positions, headed by their token; ' +
    'the cell predicts the token after it. The last row is the model\'s real prediction.';
  return section('lens', 'Logit lens', explanation, `<table class="lens">${head}${rows}</table>`);
}

export function check(i: number, n: number, what: string): void {
  if (!Number.isInteger(i) || i < 0 || i >= n) throw new Error(`${what} must be an integer in 0..${n - 1}, got ${i}`);
}
