// The training pictures (loss.svg, perplexity.svg, grad-norm.svg, lr.svg): line charts against
// the step, written by hand (no chart library): a frame, "nice" tick values on both axes (the
// y axis linear or logarithmic), axis titles, one <path> polyline per series and a legend.

export interface Series {
  label: string;
  color: string;
  points: [x: number, y: number][];
  width?: number; // stroke width, default 1.5
}

export interface ChartOptions {
  title: string;
  yLabel: string;
  xLabel?: string; // default "step"
  logY?: boolean; // logarithmic y axis (values ≤ 0 are left out)
  yFromZero?: boolean; // the linear y axis starts at 0 (or below)
}

const WIDTH = 720;
const HEIGHT = 420;
const MARGIN = { left: 64, right: 20, top: 36, bottom: 52 };
const MAX_POINTS = 2000; // longer series are thinned by averaging buckets of steps

// Tick values at 1, 2 or 5 × 10^k covering [lo, hi], about `count` of them.
export function niceTicks(lo: number, hi: number, count = 6): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((k) => k * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

// At most MAX_POINTS points: consecutive runs averaged (a long run's noisy loss smooths a bit).
function thin(points: [number, number][]): [number, number][] {
  if (points.length <= MAX_POINTS) return points;
  const per = Math.ceil(points.length / MAX_POINTS);
  const out: [number, number][] = [];
  for (let i = 0; i < points.length; i += per) {
    const run = points.slice(i, i + per);
    out.push([run.reduce((s, p) => s + p[0], 0) / run.length, run.reduce((s, p) => s + p[1], 0) / run.length]);
  }
  return out;
}

const escapeXml = (s: string) => s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
const fmt = (v: number) => (Math.abs(v) >= 1000 ? v.toFixed(0) : String(Number(v.toPrecision(4))));
// y labels: small learning rates and gradient norms in exponent form (3e-4), others as fmt
const fmtY = (v: number) => (v !== 0 && Math.abs(v) < 0.01 ? v.toExponential(1).replace(/\.0e/, 'e') : fmt(v));

// Ticks for a log axis over [10^lo, 10^hi], as log10 values: 1, 2, 5 × 10^k when the range
// spans under 3 decades, else every power of ten (thinned to about 8); linear nice ticks
// within a range under a decade (1-2-5 would leave two or three there).
export function logTicks(lo: number, hi: number): number[] {
  if (!(hi > lo)) return [lo];
  if (hi - lo < 1) return niceTicks(10 ** lo, 10 ** hi).filter((t) => t > 0).map(Math.log10);
  const ticks: number[] = [];
  const mantissas = hi - lo < 3 ? [1, 2, 5] : [1];
  const every = Math.max(1, Math.ceil((hi - lo) / 8));
  for (let k = Math.floor(lo); k <= Math.ceil(hi); k++) {
    if (mantissas.length === 1 && k % every !== 0) continue;
    for (const m of mantissas) {
      const t = Math.log10(m) + k;
      if (t >= lo - 1e-9 && t <= hi + 1e-9) ticks.push(t);
    }
  }
  return ticks;
}

export function lossChartSvg(series: readonly Series[], title = 'loss'): string {
  return chartSvg(series, { title, yLabel: 'cross-entropy loss (nats)' });
}

export function chartSvg(series: readonly Series[], options: ChartOptions): string {
  const logY = options.logY === true;
  const ok = ([x, y]: [number, number]) => Number.isFinite(x) && Number.isFinite(y) && (!logY || y > 0);
  const shown = series.map((s) => ({
    ...s, points: thin(s.points.filter(ok)).map(([x, y]): [number, number] => [x, logY ? Math.log10(y) : y]),
  }));
  const all = shown.flatMap((s) => s.points);
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  const x0 = Math.min(0, ...xs);
  const x1 = Math.max(x0 + 1, ...xs);
  const yMin = all.length ? Math.min(options.yFromZero && !logY ? 0 : Infinity, ...ys) : 0;
  const yMax = all.length ? Math.max(...ys, yMin + 1e-3) : 1;
  const y0 = yMin - 0.05 * (yMax - yMin); // 5 % headroom: no line runs along the frame
  const y1 = yMax + 0.05 * (yMax - yMin);
  // Two series: the legend inside the plot's top right corner; more: in a column right of it.
  const legend = shown.filter((s) => s.label);
  const outside = legend.length > 2;
  const legendWidth = 40 + 7 * Math.max(0, ...legend.map((s) => s.label.length)); // ~7 px a character
  const pw = WIDTH - MARGIN.left - MARGIN.right - (outside ? legendWidth : 0); // plot area width, px
  const ph = HEIGHT - MARGIN.top - MARGIN.bottom; // plot area height, px
  const sx = (x: number) => MARGIN.left + ((x - x0) / (x1 - x0)) * pw;
  const sy = (y: number) => MARGIN.top + (1 - (y - y0) / (y1 - y0)) * ph;
  const px = (v: number) => v.toFixed(1);

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="20" text-anchor="middle" font-size="14">${escapeXml(options.title)}</text>`,
  ];
  for (const t of niceTicks(x0, x1)) {
    parts.push(`<line x1="${px(sx(t))}" y1="${MARGIN.top}" x2="${px(sx(t))}" y2="${MARGIN.top + ph}" stroke="#eee"/>`);
    parts.push(`<text x="${px(sx(t))}" y="${MARGIN.top + ph + 16}" text-anchor="middle">${fmt(t)}</text>`);
  }
  for (const t of logY ? logTicks(y0, y1) : niceTicks(y0, y1)) {
    parts.push(`<line x1="${MARGIN.left}" y1="${px(sy(t))}" x2="${MARGIN.left + pw}" y2="${px(sy(t))}" stroke="#eee"/>`);
    parts.push(`<text x="${MARGIN.left - 6}" y="${px(sy(t) + 4)}" text-anchor="end">${fmtY(logY ? 10 ** t : t)}</text>`);
  }
  parts.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  parts.push(`<text x="${MARGIN.left + pw / 2}" y="${HEIGHT - 12}" text-anchor="middle">${escapeXml(options.xLabel ?? 'step')}</text>`);
  parts.push(`<text transform="translate(16 ${MARGIN.top + ph / 2}) rotate(-90)" text-anchor="middle">${escapeXml(options.yLabel + (logY ? ' (log scale)' : ''))}</text>`);
  for (const s of shown) {
    if (s.points.length === 0) continue;
    const d = s.points.map(([x, y], i) => `${i ? 'L' : 'M'}${px(sx(x))} ${px(sy(y))}`).join(' ');
    parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="${s.width ?? 1.5}"/>`);
    if (s.points.length === 1) parts.push(`<circle cx="${px(sx(s.points[0][0]))}" cy="${px(sy(s.points[0][1]))}" r="3" fill="${s.color}"/>`);
  }
  const lx = outside ? MARGIN.left + pw + 16 : MARGIN.left + pw - legendWidth;
  if (legend.length && !outside) {
    parts.push(`<rect x="${lx - 6}" y="${MARGIN.top + 2}" width="${legendWidth}" height="${legend.length * 18 + 4}" fill="white" fill-opacity="0.85"/>`);
  }
  legend.forEach((s, i) => {
    const y = MARGIN.top + 14 + i * 18;
    const x = lx;
    parts.push(`<line x1="${x}" y1="${y - 4}" x2="${x + 24}" y2="${y - 4}" stroke="${s.color}" stroke-width="2"/>`);
    parts.push(`<text x="${x + 30}" y="${y}">${escapeXml(s.label)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
