// `llama-ts conform`: a port's dump against a golden case, tensor by tensor in data-flow
// order, naming the first tensor out of tolerance (where the port first goes wrong).
import type { Kernels } from '../../reference/kernels.js';
import { readFileBytes } from '../io/read-file.js';
import { parseSafetensors, tensorToFloat64, type SafeTensor, type TensorToWrite } from '../formats/safetensors.js';
import { compareTensor, toleranceFor, type TensorComparison } from './compare.js';
import { dumpAdamW, dumpForward } from './dump.js';
import { caseModel, readExpected, type GoldenCase, type GoldenManifest } from './golden.js';

export interface ConformReport {
  case: string;
  ok: boolean;
  compared: TensorComparison[]; // in data-flow order
  firstFailure: string | null;
  missing: string[]; // golden tensors the dump does not have
  extra: string[]; // dump tensors golden does not have
}

type DumpTensors = Map<string, { shape: number[]; values: Float64Array }>;

export function conformTensors(manifest: GoldenManifest, c: GoldenCase, dump: DumpTensors): ConformReport {
  const expected = readExpected(manifest, c);
  const compared: TensorComparison[] = [];
  const missing: string[] = [];
  for (const name of c.tensors) {
    const golden = expected.tensors.get(name);
    const ours = dump.get(name);
    if (!golden) continue;
    if (!ours) {
      missing.push(name);
      continue;
    }
    compared.push(compareTensor(name, ours.values, ours.shape, tensorToFloat64(golden), golden.shape, toleranceFor(name, manifest.tolerances)));
  }
  const extra = [...dump.keys()].filter((n) => !expected.tensors.has(n));
  const first = compared.find((r) => !r.ok);
  return {
    case: c.name,
    ok: compared.length > 0 && !first,
    compared,
    firstFailure: first ? first.name : compared.length === 0 ? '(no tensor in common with the golden case)' : null,
    missing,
    extra,
  };
}

export function conformDumpFile(manifest: GoldenManifest, c: GoldenCase, dumpPath: string): ConformReport {
  const file = parseSafetensors(readFileBytes(dumpPath), dumpPath);
  return conformTensors(manifest, c, fromSafetensors(file.tensors));
}

// Runs a golden case through llama-ts itself: forward, loss, gradients and AdamW steps.
export function conformSelf(manifest: GoldenManifest, c: GoldenCase, kernels: Kernels): ConformReport {
  const model = caseModel(manifest, c);
  const targets = c.targets?.length === c.tokens.length ? c.targets : undefined;
  const tensors = dumpForward(model, kernels, c.tokens, { targets });
  if (targets && c.adamw) {
    tensors.push(...dumpAdamW(model, kernels, c.tokens, targets, { lr: c.adamw.lr, steps: c.adamw.steps, savedSteps: c.adamw.saved_steps }));
  }
  return conformTensors(manifest, c, fromWritten(tensors));
}

export function fromSafetensors(tensors: Map<string, SafeTensor>): DumpTensors {
  const out: DumpTensors = new Map();
  for (const [name, t] of tensors) out.set(name, { shape: t.shape, values: tensorToFloat64(t) });
  return out;
}

export function fromWritten(tensors: Array<[string, TensorToWrite]>): DumpTensors {
  const out: DumpTensors = new Map();
  for (const [name, t] of tensors) out.set(name, { shape: t.shape, values: Float64Array.from(t.data as ArrayLike<number>) });
  return out;
}

// A human-readable report: one line per tensor, then the verdict.
export function formatReport(r: ConformReport, verbose = true): string {
  const lines: string[] = [];
  const head = `${'tensor'.padEnd(40)} ${'kind'.padEnd(12)} ${'max abs'.padStart(10)} ${'max rel'.padStart(10)} ${'of tol'.padStart(8)}`;
  if (verbose) lines.push(`case ${r.case}`, head);
  for (const t of r.compared) {
    if (!verbose && t.ok) continue;
    const mark = t.ok ? 'ok' : 'FAIL';
    const detail = t.problem ? `  ${t.problem}` : !t.ok ? `  (${t.outliers} elements out, worst at flat index ${t.worstIndex})` : t.outliers ? `  (${t.outliers} allowed outliers)` : '';
    lines.push(`${t.name.padEnd(40)} ${t.kind.padEnd(12)} ${sci(t.maxAbsError)} ${sci(t.maxRelError)} ${fmtUsage(t.usage)}  ${mark}${detail}`);
  }
  if (r.missing.length) lines.push(`not in the dump: ${summarize(r.missing)}`);
  if (r.extra.length) lines.push(`not in golden (ignored): ${summarize(r.extra)}`);
  lines.push(r.ok
    ? `${r.case}: PASS, ${r.compared.length} tensors within tolerance`
    : `${r.case}: FAIL, first divergence at ${r.firstFailure}`);
  return lines.join('\n') + '\n';
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
