// Hand-written SVG for the views: horizontal bars, heatmaps, line charts and rotation dials,
// as strings, so the page (innerHTML) and the self-contained HTML reports (llama-ts explain,
// conform --html) draw the same pictures without a library or a network.

export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

// Numbers written short: the pictures hold many.
export function fmt(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return String(x);
  if (x !== 0 && (Math.abs(x) < 1e-3 || Math.abs(x) >= 1e5)) return x.toExponential(digits - 1);
  return Number(x.toPrecision(digits)).toString();
}

export interface Bar {
  label: string;
  value: number; // 0..max: the bar's length
  back?: number; // a second, lighter bar behind (e.g. the model's probability behind the sampler's)
  text?: string; // written right of the bar (default: the value)
  cls?: string; // class of the row's <g> (e.g. 'sampled', 'dropped')
  data?: Record<string, string | number>; // data-* attributes of the row, for tests and hover
}

export function bars(rows: Bar[], o: { max?: number; width?: number; labelWidth?: number; textWidth?: number; title?: string } = {}): string {
  const rowH = 18;
  const labelW = o.labelWidth ?? 110;
  const width = o.width ?? 460;
  const barW = width - labelW - (o.textWidth ?? 70) - 6;
  const max = o.max ?? Math.max(1e-12, ...rows.map((r) => Math.max(r.value, r.back ?? 0)));
  const body = rows.map((r, i) => {
    const y = i * rowH;
    const data = Object.entries(r.data ?? {}).map(([k, v]) => ` data-${k}="${esc(String(v))}"`).join('');
    const back = r.back === undefined ? '' : `<rect class="back" x="${labelW}" y="${y + 3}" width="${((r.back / max) * barW).toFixed(1)}" height="${rowH - 6}" fill="#cfd8e3"/>`;
    return `<g class="bar ${r.cls ?? ''}"${data}><title>${esc(r.label)}: ${esc(r.text ?? fmt(r.value))}</title>` +
      `<text x="${labelW - 6}" y="${y + 13}" text-anchor="end">${esc(r.label)}</text>${back}` +
      `<rect class="fill" x="${labelW}" y="${y + 3}" width="${Math.max(0, (r.value / max) * barW).toFixed(1)}" height="${rowH - 6}"/>` +
      `<text x="${labelW + barW + 6}" y="${y + 13}">${esc(r.text ?? fmt(r.value))}</text></g>`;
  }).join('');
  return svg(width, rows.length * rowH + 4, body, o.title);
}

// White (0) to dark blue (1).
export function shade(v: number): string {
  const x = Math.max(0, Math.min(1, v));
  const c = (a: number, b: number): number => Math.round(a + (b - a) * x);
  return `rgb(${c(255, 8)},${c(255, 48)},${c(255, 107)})`;
}

export const LOG_FLOOR = 1e-4; // the log scale's white: weights below it look like zero

// A probability to [0, 1] for shading, linear or log (1e-4 .. 1).
export function level(p: number, log: boolean): number {
  if (!log) return p;
  return p <= LOG_FLOOR ? 0 : 1 - Math.log10(p) / Math.log10(LOG_FLOOR);
}

export interface HeatmapOptions {
  rowLabels?: string[];
  colLabels?: string[];
  cell?: number; // px a cell
  log?: boolean;
  title?: string;
  mask?: (r: number, c: number) => boolean; // cells not drawn (causal: above the diagonal)
  dataName?: string; // data-* attribute carrying each cell's value
}

// m: [rows, cols] values in 0..1
export function heatmap(m: ArrayLike<number>, rows: number, cols: number, o: HeatmapOptions = {}): string {
  const cell = o.cell ?? 14;
  const left = o.rowLabels ? 90 : 0;
  const top = o.colLabels ? 60 : 0;
  const parts: string[] = [];
  for (let r = 0; r < rows; r++) {
    parts.push(`<g class="row" data-row="${r}">`);
    for (let c = 0; c < cols; c++) {
      if (o.mask?.(r, c)) continue;
      const v = m[r * cols + c];
      parts.push(`<rect x="${left + c * cell}" y="${top + r * cell}" width="${cell}" height="${cell}" fill="${shade(level(v, o.log ?? false))}" data-col="${c}" data-${o.dataName ?? 'v'}="${v}"><title>${fmt(v, 4)}</title></rect>`);
    }
    parts.push('</g>');
  }
  o.rowLabels?.forEach((l, r) => parts.push(`<text x="${left - 4}" y="${top + r * cell + cell * 0.75}" text-anchor="end" font-size="${Math.min(11, cell)}">${esc(l)}</text>`));
  o.colLabels?.forEach((l, c) => {
    const x = left + c * cell + cell * 0.7;
    parts.push(`<text transform="translate(${x},${top - 4}) rotate(-60)" font-size="${Math.min(11, cell)}">${esc(l)}</text>`);
  });
  return svg(left + cols * cell + 2, top + rows * cell + 2, parts.join(''), o.title);
}

export interface Series {
  name: string;
  values: number[];
  color: string;
}

// Lines over x = 0..n-1, y linear or log10; marks: x positions with a label (a vertical rule).
export function lineChart(series: Series[], xLabels: string[], o: { width?: number; height?: number; logY?: boolean; title?: string; marks?: { x: number; label: string; color: string }[]; yLabel?: string } = {}): string {
  const width = o.width ?? 640;
  const height = o.height ?? 220;
  const left = 56;
  const bottom = 110; // rotated x labels, then the legend
  const plotW = width - left - 10;
  const plotH = height - bottom - 10;
  const ty = (v: number): number => (o.logY ? Math.log10(Math.max(v, 1e-30)) : v);
  const finite = series.flatMap((s) => s.values.filter((v) => Number.isFinite(v) && (!o.logY || v > 0)).map(ty));
  let lo = Math.min(...finite, o.logY ? 0 : 0);
  let hi = Math.max(...finite, lo + 1e-9);
  if (o.logY) {
    lo = Math.floor(lo);
    hi = Math.ceil(hi);
  }
  if (hi === lo) hi = lo + 1;
  const n = Math.max(1, xLabels.length - 1);
  const X = (i: number): number => left + (i / n) * plotW;
  const Y = (v: number): number => 10 + plotH - ((ty(v) - lo) / (hi - lo)) * plotH;
  const parts: string[] = [`<rect x="${left}" y="10" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`];
  for (let k = 0; k <= 4; k++) {
    const v = lo + ((hi - lo) * k) / 4;
    const y = 10 + plotH - (plotH * k) / 4;
    parts.push(`<text x="${left - 4}" y="${y + 4}" text-anchor="end" font-size="10">${o.logY ? `1e${fmt(v, 2)}` : fmt(v)}</text>`);
  }
  const step = Math.max(1, Math.ceil(xLabels.length / 40));
  xLabels.forEach((l, i) => {
    if (i % step === 0) parts.push(`<text transform="translate(${X(i) + 3},${height - bottom + 14}) rotate(60)" font-size="9">${esc(l)}</text>`);
  });
  for (const m of o.marks ?? []) {
    parts.push(`<g class="mark" data-x="${m.x}"><line x1="${X(m.x)}" x2="${X(m.x)}" y1="10" y2="${10 + plotH}" stroke="${m.color}" stroke-dasharray="4 3"/><text x="${X(m.x) + 3}" y="22" fill="${m.color}" font-size="11">${esc(m.label)}</text></g>`);
  }
  for (const s of series) {
    const pts = s.values.map((v, i) => (Number.isFinite(v) && (!o.logY || v > 0) ? `${X(i).toFixed(1)},${Y(v).toFixed(1)}` : '')).filter(Boolean);
    parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="1.5" points="${pts.join(' ')}"><title>${esc(s.name)}</title></polyline>`);
    s.values.forEach((v, i) => {
      if (Number.isFinite(v) && (!o.logY || v > 0)) parts.push(`<circle cx="${X(i).toFixed(1)}" cy="${Y(v).toFixed(1)}" r="2.5" fill="${s.color}"><title>${esc(`${s.name} ${xLabels[i]}: ${fmt(v)}`)}</title></circle>`);
    });
  }
  if (o.yLabel) parts.push(`<text transform="translate(12,${10 + plotH / 2}) rotate(-90)" text-anchor="middle" font-size="11">${esc(o.yLabel)}</text>`);
  const legend = series.map((s, i) => `<text x="${left + 8 + i * 230}" y="${height - 4}" fill="${s.color}" font-size="11">■ ${esc(s.name)}</text>`).join('');
  return svg(width, height, parts.join('') + legend, o.title);
}

// One dial per angle: a circle with a hand at the angle (radians, counter-clockwise from +x).
export function dials(angles: { angle: number; label: string; title: string }[], o: { size?: number; perRow?: number; title?: string } = {}): string {
  const size = o.size ?? 44;
  const perRow = o.perRow ?? 16;
  const r = size / 2 - 5;
  const parts = angles.map((a, i) => {
    const cx = (i % perRow) * size + size / 2;
    const cy = Math.floor(i / perRow) * (size + 12) + size / 2;
    const x = cx + r * Math.cos(a.angle);
    const y = cy - r * Math.sin(a.angle);
    return `<g class="dial" data-angle="${a.angle}"><title>${esc(a.title)}</title><circle cx="${cx}" cy="${cy}" r="${r}" fill="none" stroke="#bbb"/>` +
      `<line x1="${cx}" y1="${cy}" x2="${cx + r}" y2="${cy}" stroke="#ddd"/><line x1="${cx}" y1="${cy}" x2="${x.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#c0392b" stroke-width="2"/>` +
      `<text x="${cx}" y="${cy + r + 12}" text-anchor="middle" font-size="9">${esc(a.label)}</text></g>`;
  });
  const rows = Math.ceil(angles.length / perRow);
  return svg(Math.min(angles.length, perRow) * size, rows * (size + 12), parts.join(''), o.title);
}

export function svg(width: number, height: number, body: string, title?: string): string {
  const label = title ? ` role="img" aria-label="${esc(title)}"` : '';
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${Math.ceil(width)}" height="${Math.ceil(height)}" viewBox="0 0 ${Math.ceil(width)} ${Math.ceil(height)}" font-family="system-ui, sans-serif" font-size="12"${label}>${title ? `<title>${esc(title)}</title>` : ''}${body}</svg>`;
}
