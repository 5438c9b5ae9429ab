// A batch: `cases` recipes drawn by fast-check from one seed, each built and judged. On the
// first defect fast-check replays that case and shrinks its recipe (fewer edits, smaller
// numbers, shorter texts) while the defect stays of the same kind: the minimized input is
// what gets saved. Used by the worker (bench/fuzz/worker.ts) and by the CI slice test.
import fc from 'fast-check';
import { fileTargets } from './targets-files.js';
import { textTargets } from './targets-text.js';
import { runCase, type CaseResult } from './run-case.js';
import type { Target } from './target.js';

export const TARGETS: readonly Target[] = [...fileTargets, ...textTargets];

export function targetNamed(name: string): Target {
  const t = TARGETS.find((x) => x.name === name);
  if (!t) throw new Error(`no fuzz target "${name}" (targets: ${TARGETS.map((x) => x.name).join(', ')})`);
  return t;
}

export interface BatchStats {
  target: string;
  seed: number;
  ran: number;
  ok: number;
  refused: number;
  ms: number;
  maxCaseMs: number;
  maxAllocated: number; // bytes, the largest single allocation of any case
  maxAllocatedRatio: number; // that over the case's input size
  defect?: Defect;
}

export interface Defect {
  target: string;
  seed: number;
  path: string; // fast-check's replay path of the first failing case
  kind: string;
  message: string;
  input: Uint8Array; // the minimized input, as a regression file holds it
  inputBytes: number;
}

// Called at the start of each case (the worker's watchdog reads it).
export type OnCase = (index: number) => void;

export async function runBatch(target: Target, seed: number, cases: number, deadlineMs: number, onCase: OnCase = () => {}): Promise<BatchStats> {
  const stats: BatchStats = { target: target.name, seed, ran: 0, ok: 0, refused: 0, ms: 0, maxCaseMs: 0, maxAllocated: 0, maxAllocatedRatio: 0 };
  let counting = true;
  let firstKind: string | undefined;
  let last: CaseResult | undefined;
  const property = fc.asyncProperty(target.recipe(), async (recipe) => {
    if (counting) onCase(stats.ran);
    const input = target.build(recipe);
    const r = await runCase(target, input, target.deadlineMs ?? deadlineMs);
    last = r;
    if (counting) {
      stats.ran++;
      if (r.verdict === 'ok') stats.ok++;
      else if (r.verdict === 'refused') stats.refused++;
      stats.maxCaseMs = Math.max(stats.maxCaseMs, r.ms);
      if (r.allocated > stats.maxAllocated) stats.maxAllocated = r.allocated;
      stats.maxAllocatedRatio = Math.max(stats.maxAllocatedRatio, r.allocated / Math.max(1, target.size(input)));
    }
    // While shrinking, only a defect of the first one's kind counts as still failing.
    return r.verdict !== 'defect' || (firstKind !== undefined && r.kind !== firstKind);
  });
  const t0 = performance.now();
  const first = await fc.check(property, { seed, numRuns: cases, endOnFailure: true });
  stats.ms = performance.now() - t0;
  if (!first.failed || first.counterexamplePath === null) return stats;
  counting = false;
  firstKind = last?.kind;
  const firstMessage = last?.message ?? '';
  // Replay from the failing case and shrink (for at most 30 s: slow cases shrink slowly).
  const shrunk = await fc.check(property, { seed, path: first.counterexamplePath, numRuns: 1, interruptAfterTimeLimit: 30_000, markInterruptAsFailure: false });
  const recipe = (shrunk.failed && shrunk.counterexample ? shrunk.counterexample : first.counterexample)?.[0];
  const input = target.build(recipe);
  const final = await runCase(target, input, target.deadlineMs ?? deadlineMs);
  stats.defect = {
    target: target.name, seed, path: first.counterexamplePath, kind: firstKind ?? 'unknown',
    message: final.verdict === 'defect' ? final.message ?? '' : firstMessage, input: target.encode(input), inputBytes: target.size(input),
  };
  return stats;
}

// The recipe fast-check drew for case `index` of a batch (for a case that hung or killed
// its worker, which cannot report it itself).
export function recipeAt(target: Target, seed: number, index: number): unknown {
  let found: unknown;
  fc.check(fc.property(target.recipe(), (r) => { found = r; return false; }), { seed, path: String(index), numRuns: 1, endOnFailure: true });
  return found;
}
