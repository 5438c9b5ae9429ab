// The layer internals at one position, as HTML with inline SVG: RMSNorm's scale and gain,
// RoPE's rotation of each (2i, 2i+1) pair, SwiGLU's gate, and the residual stream's norm
// through the layers. Shared by the explorer page and `llama-ts explain` (views.ts has the rest).
import { silu } from '../../reference/swiglu.js';
import { rmsScale } from './step.js';
import { bars, dials, esc, fmt, lineChart, svg } from './svg.js';
import { check, section, showPiece, type ViewContext } from './views.js';

const SHOWN_CHANNELS = 24; // the largest of C entries: a bar per channel would not fit

export function rmsnormView(ctx: ViewContext, layer: number, pos: number): string {
  const { step } = ctx;
  const C = step.shape.dim;
  check(layer, step.shape.nLayers, 'layer');
  check(pos, step.tokens.length, 'position');
  const x = step.residual[layer].subarray(pos * C, (pos + 1) * C);
  const y = step.attentionNormOut[layer].subarray(pos * C, (pos + 1) * C);
  const gain = step.attentionNormGains[layer];
  const scale = rmsScale(step.residual[layer], pos, C, step.shape.normEps);
  const order = Array.from({ length: C }, (_, i) => i).sort((a, b) => Math.abs(y[b]) - Math.abs(y[a])).slice(0, SHOWN_CHANNELS);
  const max = Math.max(...order.map((i) => Math.max(Math.abs(x[i] * scale), Math.abs(y[i]))));
  const rows = order.map((i) => ({
    label: `channel ${i}`, value: Math.abs(y[i]), back: Math.abs(x[i] * scale),
    text: `x·s ${fmt(x[i] * scale)} × g ${fmt(gain[i])} = ${fmt(y[i])}`, data: { channel: i, gain: gain[i], out: y[i] },
  }));
  const explanation =
    `Before attention, layer ${layer} rescales the residual stream at position ${pos} to unit root-mean-square: ` +
    `rms = ${fmt(1 / scale, 4)}, so every channel is multiplied by the scale s = 1/sqrt(mean(x²) + ε) = <b class="rms-scale">${fmt(scale, 4)}</b>, ` +
    `then by its learned gain g. The ${SHOWN_CHANNELS} largest outputs of ${C} channels: light bar |x·s|, dark bar |x·s·g|.`;
  return section('rmsnorm', `RMSNorm before attention: layer ${layer}, position ${pos}`, explanation,
    `<div data-scale="${scale}">${bars(rows, { max, width: 500, labelWidth: 80, textWidth: 170, title: 'RMSNorm channels' })}</div>`);
}

export function ropeView(ctx: ViewContext, pos: number): string {
  const { step } = ctx;
  check(pos, step.tokens.length, 'position');
  const freqs = step.ropeFreqs;
  const angles = Array.from(freqs, (theta, i) => {
    const phi = pos * theta;
    return { angle: phi, label: `${2 * i},${2 * i + 1}`, title: `pair (${2 * i}, ${2 * i + 1}): θ = ${fmt(theta, 4)} rad/position, φ = ${fmt(phi, 4)} rad (${fmt(((phi % (2 * Math.PI)) * 180) / Math.PI, 4)}°)` };
  });
  const explanation =
    `Rotary embeddings encode position ${pos} by rotating each pair of query and key channels (2i, 2i+1) by the angle φ = ${pos} · θ_i, ` +
    `θ_i = θ^(−2i/hd). Early pairs turn fast (many turns per position), late pairs slowly, so a query·key dot product depends on how far apart ` +
    `the two positions are, not where they are. Each dial shows one pair's rotation at this position (red hand; grey: no rotation).`;
  return section('rope', `RoPE at position ${pos} (${esc(showPiece(ctx.piece(step.tokens[pos])))})`, explanation, dials(angles, { perRow: 16, title: 'RoPE rotation per pair' }));
}

export function swigluView(ctx: ViewContext, layer: number, pos: number): string {
  const { step } = ctx;
  const H = step.shape.hiddenDim;
  check(layer, step.shape.nLayers, 'layer');
  check(pos, step.tokens.length, 'position');
  const a = step.gatePre[layer].subarray(pos * H, (pos + 1) * H);
  const u = step.up[layer].subarray(pos * H, (pos + 1) * H);
  const lim = Math.max(4, ...Array.from(a, Math.abs));
  const W = 500;
  const Hpx = 220;
  const X = (v: number): number => 40 + ((v + lim) / (2 * lim)) * (W - 50);
  const yMax = lim;
  const Y = (v: number): number => 10 + (1 - (v + 0.5) / (yMax + 0.5)) * (Hpx - 40);
  const curve = Array.from({ length: 121 }, (_, i) => -lim + (2 * lim * i) / 120).map((v) => `${X(v).toFixed(1)},${Y(silu(v)).toFixed(1)}`).join(' ');
  let open = 0;
  const dots = Array.from(a, (v, i) => {
    if (silu(v) * Math.sign(v) > 0.5) open++;
    return `<circle cx="${X(v).toFixed(1)}" cy="${Y(silu(v)).toFixed(1)}" r="2.2" fill="${u[i] >= 0 ? '#2c7fb8' : '#e6550d'}" opacity="0.7" data-unit="${i}" data-gate="${v}"><title>unit ${i}: w1·x = ${fmt(v)}, silu = ${fmt(silu(v))}, w3·x = ${fmt(u[i])}, product ${fmt(silu(v) * u[i])}</title></circle>`;
  }).join('');
  const axes = `<line x1="${X(-lim)}" x2="${X(lim)}" y1="${Y(0)}" y2="${Y(0)}" stroke="#999"/><line x1="${X(0)}" x2="${X(0)}" y1="10" y2="${Hpx - 30}" stroke="#999"/>` +
    `<text x="${X(lim) - 4}" y="${Y(0) + 14}" text-anchor="end" font-size="10">w1·x</text><text x="${X(0) + 4}" y="20" font-size="10">silu(w1·x)</text>`;
  const picture = svg(W, Hpx, `${axes}<polyline fill="none" stroke="#555" points="${curve}"/>${dots}`, 'SwiGLU gate');
  const explanation =
    `The feed-forward of layer ${layer} computes w2 · (silu(w1 x) ⊙ w3 x). Each dot is one of its ${H} hidden units at position ${pos}, placed on the ` +
    `silu curve at its gate input w1·x: negative inputs are squashed towards 0 (the gate closes), positive ones pass almost unchanged. ` +
    `The gated value multiplies w3·x (blue: positive, orange: negative). Here <b>${open}</b> units have a gate above 0.5 in size.`;
  return section('swiglu', `SwiGLU gate: layer ${layer}, position ${pos}`, explanation, picture);
}

export function residualView(ctx: ViewContext, pos: number): string {
  const { step } = ctx;
  const L = step.shape.nLayers;
  check(pos, step.tokens.length, 'position');
  const n = 2 * L + 1;
  const norms = Array.from(step.residualNorms.subarray(pos * n, (pos + 1) * n));
  const labels = ['embedding', ...Array.from({ length: L }, (_, l) => [`${l} + attention`, `${l} + FFN`]).flat()];
  const explanation =
    `The residual stream is the vector each layer reads and adds to: h ← h + attention(RMSNorm(h)), then h ← h + FFN(RMSNorm(h)). ` +
    `Its length ‖h‖ at position ${pos} after each addition: it usually grows through the layers, which is why every sub-layer normalizes its input first.`;
  return section('residual', `Residual stream at position ${pos}`, explanation,
    `<div data-norms="${norms.map((v) => fmt(v, 6)).join(',')}">${lineChart([{ name: '‖h‖', values: norms, color: '#2c7fb8' }], labels, { width: 500, height: 270, yLabel: '‖h‖', title: 'residual norm' })}</div>`);
}
