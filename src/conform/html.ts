// conform --html: the error of every tensor in data-flow order, through the layers, as one
// self-contained HTML page (inline SVG), the first divergent tensor marked, so a port author
// sees where the error starts and how it grows. Log scales: errors span many decades.
import { esc, fmt, lineChart } from '../explain/svg.js';
import type { ConformReport } from './conform.js';

export function conformHtml(r: ConformReport): string {
  const shown = r.compared.filter((t) => t.kind !== 'index'); // token ids have no error to draw
  const names = shown.map((t) => t.name);
  const marks = [];
  const first = r.firstFailure ? names.indexOf(r.firstFailure) : -1;
  if (first >= 0) marks.push({ x: first, label: `first divergent: ${r.firstFailure}`, color: '#c0392b' });
  const noisy = r.firstAboveNoise ? names.indexOf(r.firstAboveNoise.name) : -1;
  if (noisy >= 0 && noisy !== first) marks.push({ x: noisy, label: `first above float32 noise: ${r.firstAboveNoise!.name}`, color: '#e67e22' });
  const chart = lineChart([
    { name: 'share of the tolerance used', values: shown.map((t) => t.usage), color: '#08306b' },
    { name: 'max relative error', values: shown.map((t) => t.maxRelError), color: '#2ca25f' },
    { name: 'tolerance (1)', values: shown.map(() => 1), color: '#c0392b' },
  ], names, { width: Math.max(720, 14 * names.length + 80), height: 420, logY: true, marks, yLabel: 'error (log scale)', title: `conform ${r.case}: error per tensor` });
  const rows = r.compared.map((t) => `<tr class="${t.ok ? 'ok' : 'fail'}" data-name="${esc(t.name)}"${t.name === r.firstFailure ? ' id="first-divergent"' : ''}>` +
    `<td>${esc(t.name)}</td><td>${esc(t.kind)}</td><td>${fmt(t.maxAbsError)}</td><td>${fmt(t.maxRelError)}</td><td>${fmt(t.usage)}</td>` +
    `<td>${t.ok ? 'ok' : 'FAIL'}</td><td>${esc(t.problem ?? (t.worstAt ? `worst at ${t.worstAt}` : ''))}</td></tr>`).join('');
  const verdict = r.ok ? `PASS: ${r.compared.length} tensors within tolerance` : `FAIL: first divergence at ${r.firstFailure}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>conform ${esc(r.case)}</title>
<style>body { font: 14px/1.45 system-ui, sans-serif; max-width: 80rem; margin: 1.5rem auto; padding: 0 1rem; }
table { border-collapse: collapse; font-size: 12px; } td, th { border: 1px solid #ddd; padding: 2px 6px; text-align: left; }
tr.fail { background: #fde2e0; } #first-divergent { outline: 2px solid #c0392b; } .chart { overflow-x: auto; }</style></head>
<body><h1>conform ${esc(r.case)}: ${esc(verdict)}</h1>
<p>Each point is one tensor of the port's dump against the golden case, in data-flow order (embedding, then each layer's
attention_norm, q, k, v, attn, attn_out, h, ffn_norm, ffn_out, out, then norm, logits, ...). The blue line is the share of
its tolerance the tensor uses (above the red line at 1 it fails); the green line its largest relative error. An error that
starts at one tensor and grows through the following layers points at the operation that made that tensor.</p>
<div class="chart">${chart}</div>
${r.missing.length ? `<p>Missing from the dump: ${esc(r.missing.join(', '))}</p>` : ''}
${r.unknown.length ? `<p>Not tensors of this case: ${esc(r.unknown.map((u) => u.name).join(', '))}</p>` : ''}
<table><tr><th>tensor</th><th>kind</th><th>max abs</th><th>max rel</th><th>of tolerance</th><th></th><th>detail</th></tr>${rows}</table>
</body></html>
`;
}
