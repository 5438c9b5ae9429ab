// BPE merges by rank over one word (Sennrich et al., 2016, as GPT-2 applies them): start
// from the word's characters and repeatedly merge the adjacent pair whose merge comes
// first in the merge list (the leftmost such pair on a tie), until no adjacent pair has a
// merge.
//
// The pairs wait in a min-heap keyed by (rank, left position), and the symbols form a
// linked list, so a word of n characters takes O(n log n) however long it is; an entry
// whose symbols have changed since it was pushed is skipped when it comes up.

export class MergeRanks {
  private readonly ranks = new Map<string, number>(); // "left right" → rank (0 merges first)

  // `merges`: "left right" strings, first = merged first; `where` (file and field) names
  // them in errors.
  constructor(merges: readonly string[], where: string) {
    merges.forEach((merge, rank) => {
      if (typeof merge !== 'string') throw new Error(`${where}[${rank}] is not a string`);
      const space = merge.indexOf(' ', 1);
      if (space < 0 || space === merge.length - 1) throw new Error(`${where}[${rank}] ${JSON.stringify(merge)} is not two symbols separated by a space`);
      if (!this.ranks.has(merge)) this.ranks.set(merge, rank); // a repeated merge keeps its first rank
    });
  }

  get size(): number {
    return this.ranks.size;
  }

  rank(left: string, right: string): number | undefined {
    return this.ranks.get(left + ' ' + right);
  }
}

interface Pair {
  rank: number;
  left: number; // symbol index of the left side (the tie-break: leftmost first)
  right: number;
  text: string; // left + right when pushed; stale once either side has changed
}

// The symbols `word` (a string of byte-level characters) merges into.
export function mergeWord(word: string, ranks: MergeRanks): string[] {
  const symbols = Array.from(word);
  const n = symbols.length;
  if (n < 2) return symbols;
  const next = Array.from({ length: n }, (_, i) => (i + 1 < n ? i + 1 : -1));
  const prev = Array.from({ length: n }, (_, i) => i - 1);
  const heap = new PairHeap();
  const pushPair = (left: number, right: number): void => {
    if (left < 0 || right < 0) return;
    const rank = ranks.rank(symbols[left], symbols[right]);
    if (rank !== undefined) heap.push({ rank, left, right, text: symbols[left] + symbols[right] });
  };
  for (let i = 0; i + 1 < n; i++) pushPair(i, i + 1);

  for (let pair = heap.pop(); pair; pair = heap.pop()) {
    const { left, right } = pair;
    if (next[left] !== right || symbols[left] + symbols[right] !== pair.text) continue; // stale
    symbols[left] = pair.text;
    symbols[right] = '';
    next[left] = next[right];
    if (next[right] >= 0) prev[next[right]] = left;
    pushPair(prev[left], left);
    pushPair(left, next[left]);
  }
  const out: string[] = [];
  for (let i = 0; i >= 0; i = next[i]) out.push(symbols[i]);
  return out;
}

// A binary min-heap of pairs by (rank, left).
class PairHeap {
  private readonly items: Pair[] = [];

  push(p: Pair): void {
    const a = this.items;
    a.push(p);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(a[i], a[parent])) break;
      [a[i], a[parent]] = [a[parent], a[i]];
      i = parent;
    }
  }

  pop(): Pair | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && before(a[l], a[m])) m = l;
        if (r < a.length && before(a[r], a[m])) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]];
        i = m;
      }
    }
    return top;
  }
}

function before(x: Pair, y: Pair): boolean {
  return x.rank < y.rank || (x.rank === y.rank && x.left < y.left);
}
