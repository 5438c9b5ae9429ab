// conform's reports: one line per tensor for people, one JSON object for machines.
import type { ConformReport } from './conform.js';
import type { TensorComparison } from './compare.js';
import { plural } from './position.js';

export function formatReport(r: ConformReport, verbose = true): string {
  const lines: string[] = [];
  const head = `${'tensor'.padEnd(40)} ${'kind'.padEnd(12)} ${'max abs'.padStart(10)} ${'max rel'.padStart(10)} ${'of tol'.padStart(8)}`;
  if (verbose) lines.push(`case ${r.case}`, head);
  for (const t of r.compared) {
    if (!verbose && t.ok) continue;
    lines.push(`${t.name.padEnd(40)} ${t.kind.padEnd(12)} ${sci(t.maxAbsError)} ${sci(t.maxRelError)} ${fmtUsage(t.usage)}  ${t.ok ? 'ok' : 'FAIL'}${detail(t)}`);
  }
  for (const u of r.unknown) {
    lines.push(`${u.name.padEnd(40)} ${'?'.padEnd(12)} ${''.padStart(30)}  FAIL  not a tensor of case ${r.case}${u.didYouMean ? ` (did you mean "${u.didYouMean}"?)` : ''}`);
  }
  // (the block decode report, quant-blocks, has no parts)
  if (r.checked.length || r.notChecked.length) lines.push(`checked: ${r.checked.join(', ') || 'nothing'}${r.notChecked.length ? `; not checked (--only): ${r.notChecked.join(', ')}` : ''}`);
  if (r.unchecked.length) lines.push(`in the dump but not checked: ${summarize(r.unchecked)}`);
  if (r.missing.length) lines.push(`missing from the dump: ${summarize(r.missing)}`);
  if (r.firstAboveNoise && r.firstAboveNoise.name !== r.firstFailure) {
    const times = Number.isFinite(r.firstAboveNoise.times) ? `${r.firstAboveNoise.times.toFixed(0)}× its float32 noise` : 'not a float32 error';
    lines.push(`first tensor clearly above float32 noise: ${r.firstAboveNoise.name} (${times}): look there first`);
  }
  lines.push(r.ok
    ? `${r.case}: PASS, ${plural(r.compared.length, 'tensor')} within tolerance`
    : `${r.case}: FAIL, first divergence at ${r.firstFailure}`);
  return lines.join('\n') + '\n';
}

function detail(t: TensorComparison): string {
  const at = t.worstAt ? ` at ${t.worstAt}` : '';
  if (t.problem) return `  ${t.problem}`;
  if (!t.ok) return `  (${plural(t.outliers, 'element')} out, worst${at})`;
  if (t.outliers) return `  (${plural(t.outliers, 'allowed outlier')})`;
  return '';
}

// JSON with Infinity and NaN spelled as the strings "Infinity", "-Infinity", "NaN" (JSON has no
// such numbers, and JSON.stringify would write null where the text report says Infinity).
export function reportJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v));
}

function sci(x: number): string {
  return (Number.isFinite(x) ? x.toExponential(2) : String(x)).padStart(10);
}

function fmtUsage(x: number): string {
  return (Number.isFinite(x) ? x.toFixed(3) : String(x)).padStart(8);
}

function summarize(names: string[]): string {
  return names.length > 6 ? `${names.slice(0, 6).join(', ')} … (${names.length} in all)` : names.join(', ');
}
