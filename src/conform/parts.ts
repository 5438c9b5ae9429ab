// What a dump claims to check. A golden case's tensors fall into parts; a port that
// implements only some of them (inference only, say) declares it with --only, and every
// tensor of a declared part must then be in the dump: nothing passes unchecked.
import type { GoldenCase } from './golden.js';

export const PARTS = ['forward', 'loss', 'decode', 'grad', 'adamw'] as const;
export type Part = (typeof PARTS)[number];

// tokens and targets are the inputs: tokens always required, targets where a part uses them.
export function partOf(name: string): Part | 'inputs' {
  if (name === 'tokens' || name === 'targets') return 'inputs';
  if (name === 'loss') return 'loss';
  if (name === 'decode_logits') return 'decode';
  if (name.startsWith('grad.')) return 'grad';
  if (name.startsWith('adamw.')) return 'adamw';
  return 'forward';
}

export function casePartsOf(c: GoldenCase): Part[] {
  const present = new Set(c.tensors.map(partOf));
  return PARTS.filter((p) => present.has(p));
}

export function needsTargets(parts: readonly Part[]): boolean {
  return parts.some((p) => p === 'loss' || p === 'grad' || p === 'adamw');
}

// "forward,decode" → ['forward', 'decode'], naming the flag and the known parts on bad input.
export function parseParts(text: string, flag = '--only'): Part[] {
  const names = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (names.length === 0) throw new Error(`${flag} expects a comma-separated list of parts (${PARTS.join(', ')}), got "${text}"`);
  for (const n of names) {
    if (!(PARTS as readonly string[]).includes(n)) throw new Error(`${flag}: unknown part "${n}" (parts: ${PARTS.join(', ')})`);
  }
  return PARTS.filter((p) => names.includes(p));
}

// The golden name nearest to a misspelled one, if any is close (edit distance ≤ a third of it).
export function didYouMean(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const k of known) {
    const d = editDistance(name, k, bestDistance);
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}

// Levenshtein distance, giving up (returning `limit`) once every path is at least `limit`.
function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) >= limit) return limit;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      rowMin = Math.min(rowMin, row[j]);
    }
    if (rowMin >= limit) return limit;
    prev = row;
  }
  return prev[b.length];
}
