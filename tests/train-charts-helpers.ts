// Reading back the training pictures (src/train/plot.ts): a strict well-formedness check of the
// small XML subset they use, and the numbers they draw, so tests compare them with log.json.

// Throws unless `svg` is well-formed XML of elements with quoted attributes, text, and the
// five predefined entities; returns the element names in document order.
export function checkWellFormed(svg: string): string[] {
  const names: string[] = [];
  const open: string[] = [];
  const token = /<\/([a-zA-Z][\w-]*)\s*>|<([a-zA-Z][\w-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/gy;
  let at = 0;
  while (at < svg.length) {
    token.lastIndex = at;
    const m = token.exec(svg);
    if (!m) throw new Error(`not well-formed at ${at}: ${JSON.stringify(svg.slice(at, at + 40))}`);
    at = token.lastIndex;
    const [, close, name, attrs, selfClosing, text] = m;
    if (close) {
      const top = open.pop();
      if (top !== close) throw new Error(`</${close}> closes <${top}>`);
    } else if (name) {
      names.push(name);
      const seen = new Set<string>();
      for (const a of attrs.matchAll(/([\w:-]+)="([^"]*)"/g)) {
        if (seen.has(a[1])) throw new Error(`<${name}> repeats ${a[1]}`);
        seen.add(a[1]);
        checkText(a[2]);
      }
      if (!selfClosing) open.push(name);
      if (open.length === 0 && !selfClosing) throw new Error('unreachable');
    } else {
      if (open.length === 0 && text.trim()) throw new Error(`text outside the root element: ${text.slice(0, 40)}`);
      checkText(text);
    }
    if (open.length === 0 && names.length && at < svg.length && svg.slice(at).trim()) throw new Error('content after the root element');
  }
  if (open.length) throw new Error(`unclosed <${open.join('>, <')}>`);
  return names;
}

function checkText(text: string): void {
  const bad = /&(?!(?:lt|gt|amp|quot|apos);)/.exec(text);
  if (bad) throw new Error(`bare & in ${JSON.stringify(text)}`);
}

export interface Drawn {
  label: string | undefined; // the legend entry of the same color
  color: string;
  points: [number, number][]; // pixels
}

// Every <path> polyline with its color, and the legend's label for that color.
export function drawnPaths(svg: string): Drawn[] {
  const legend = new Map<string, string>();
  for (const m of svg.matchAll(/<line [^>]*stroke="([^"]+)" stroke-width="2"\/>\n<text [^>]*>([^<]*)<\/text>/g)) legend.set(m[1], m[2]);
  return [...svg.matchAll(/<path d="([^"]+)" fill="none" stroke="([^"]+)"/g)].map((m) => ({
    color: m[2], label: legend.get(m[2]),
    points: [...m[1].matchAll(/[ML]([\d.-]+) ([\d.-]+)/g)].map((p): [number, number] => [Number(p[1]), Number(p[2])]),
  }));
}

// The y-axis ticks: label text → pixel row (the grid lines' labels at the left edge).
export function yTicks(svg: string): Map<string, number> {
  const ticks = new Map<string, number>();
  for (const m of svg.matchAll(/<text x="[\d.]+" y="([\d.]+)" text-anchor="end">([^<]+)<\/text>/g)) ticks.set(m[2], Number(m[1]) - 4);
  return ticks;
}

// The x-axis ticks: label text → pixel column.
export function xTicks(svg: string): Map<string, number> {
  const ticks = new Map<string, number>();
  for (const m of svg.matchAll(/<text x="([\d.]+)" y="[\d.]+" text-anchor="middle">([\d.e+-]+)<\/text>/g)) ticks.set(m[2], Number(m[1]));
  return ticks;
}

// A pixel row back to a value by the axis' ticks (linear, or logarithmic with `log`), from the
// first and last tick.
export function valueAt(ticks: Map<string, number>, row: number, log = false): number {
  const entries = [...ticks].map(([label, y]): [number, number] => [Number(label), y]).sort((a, b) => a[1] - b[1]);
  const [[v0, y0], [v1, y1]] = [entries[0], entries[entries.length - 1]];
  const f = (x: number) => (log ? Math.log10(x) : x);
  const t = f(v0) + ((row - y0) / (y1 - y0)) * (f(v1) - f(v0));
  return log ? 10 ** t : t;
}
