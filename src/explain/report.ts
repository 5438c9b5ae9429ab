// `llama-ts explain`'s report: one step of the model on a prompt, every view in one
// self-contained HTML file (inline SVG and CSS, no script, nothing fetched).
import { Rng } from '../../reference/random.js';
import type { LlamaModel } from '../../reference/weights.js';
import { residualView, rmsnormView, ropeView, swigluView } from './internals.js';
import { checkSettings, type SamplingSettings } from './sampling.js';
import { explainStep } from './step.js';
import { tokenText } from './terminal.js';
import { esc } from './svg.js';
import { attentionView, distributionView, headsGridView, lensView, showPiece, type ViewContext } from './views.js';

// The views' look, for the report and the explorer page alike.
export const EXPLAIN_CSS = `
.view { margin: 1.5rem 0; padding: 0.5rem 1rem 1rem; border: 1px solid #ddd; border-radius: 6px; background: #fff; }
.view h2 { font-size: 1.1rem; margin: 0.4rem 0; }
.explain { color: #333; max-width: 46rem; }
.figure { overflow-x: auto; }
.bar .fill { fill: #08306b; }
.bar.dropped .fill { fill: #bbb; }
.bar.dropped text { fill: #888; }
.bar.sampled text { font-weight: bold; }
.bar.sampled .fill { fill: #c0392b; }
.sources details { margin: 0.3rem 0; }
.sources pre { background: #f6f6f6; padding: 0.6rem; overflow-x: auto; font-size: 12px; max-height: 24rem; }
table.lens { border-collapse: collapse; font-size: 12px; }
table.lens td, table.lens th { border: 1px solid #ddd; padding: 2px 4px; white-space: nowrap; }
.heads-grid { display: flex; flex-wrap: wrap; gap: 0.5rem; }
.kv-group { display: flex; gap: 0.3rem; border: 1px solid #9ab; border-radius: 4px; }
.kv-group button.head { display: flex; flex-direction: column; align-items: center; background: none; border: 2px solid transparent; padding: 2px; cursor: pointer; font-size: 11px; }
.kv-group button.head.selected { border-color: #c0392b; }
`;

export interface ReportOptions {
  layer?: number; // attention and internals of this layer (default: the last)
  head?: number; // attention of this head (default 0)
  position?: number; // internals at this position (default: the last)
  sampling?: SamplingSettings; // default greedy
  u?: number; // the uniform draw for the sampled token (default: the first of Rng(seed), as Sampler draws)
  seed?: number; // default 1
  title?: string;
}

export function explainReport(ctx: ViewContext, o: ReportOptions = {}): string {
  const { step } = ctx;
  const layer = o.layer ?? step.shape.nLayers - 1;
  const head = o.head ?? 0;
  const pos = o.position ?? step.tokens.length - 1;
  const sampling = o.sampling ?? { temperature: 0, topK: 0, topP: 1, minP: 0 };
  const text = step.tokens.map((t, i) => `<span class="token" title="position ${i}, token ${t}">${esc(showPiece(ctx.piece(t)))}</span>`).join(' ');
  const views = [
    distributionView(ctx, sampling, o.u ?? new Rng((o.seed ?? 1) >>> 0).nextFloat()).html,
    attentionView(ctx, layer, head, false),
    attentionView(ctx, layer, head, true).replace('id="view-attention"', 'id="view-attention-log"'),
    headsGridView(ctx, layer, true, head),
    lensView(ctx),
    rmsnormView(ctx, layer, pos),
    ropeView(ctx, pos),
    swigluView(ctx, layer, pos),
    residualView(ctx, pos),
  ];
  const s = step.shape;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(o.title ?? 'llama-ts explain')}</title>
<style>body { font: 14px/1.45 system-ui, sans-serif; max-width: 64rem; margin: 1.5rem auto; padding: 0 1rem; background: #fafafa; } .token { background: #eef; padding: 0 2px; }${EXPLAIN_CSS}</style></head>
<body><h1>${esc(o.title ?? 'One step of LLaMA')}</h1>
<p>A model of ${s.nLayers} layers, ${s.nHeads} query heads and ${s.nKvHeads} key/value heads of ${s.headDim} dimensions, width ${s.dim}, feed-forward ${s.hiddenDim}, vocabulary ${s.vocabSize}.
The prompt, ${step.tokens.length} tokens (position, token id on hover):</p><p class="prompt">${text}</p>
<p>The views below follow one forward pass of the reference model (reference/model.ts) over these tokens, and the choice of the next token. Attention and the internals are shown for layer ${layer}, head ${head}, position ${pos}.</p>
${views.join('\n')}
</body></html>
`;
}

export interface PromptTokenizer {
  encode(text: string, options?: { bos?: boolean }): number[];
  decodePiece(prevId: number, id: number): Uint8Array;
  vocab?: object;
}

// The whole report for a prompt: its tokens (BOS first), one explained step, every view.
export function explainPromptReport(model: LlamaModel, tokenizer: PromptTokenizer, prompt: string, o: ReportOptions = {}): string {
  const tokens = tokenizer.encode(prompt, { bos: true });
  const step = explainStep(model, tokens);
  if (o.sampling) checkSettings(o.sampling);
  return explainReport({ step, piece: (t) => tokenText(tokenizer, t) }, { title: `One step of LLaMA on “${prompt}”`, ...o });
}
