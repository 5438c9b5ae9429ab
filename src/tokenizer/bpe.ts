// SentencePiece BPE encoding of an already-normalized string (bpe_model.cc, Model::Encode).
//
//   1. Split the string into symbols: one per Unicode character, except that a
//      USER_DEFINED piece is taken whole (longest match first) and frozen.
//   2. Put every adjacent pair whose concatenation is a vocabulary piece in a priority
//      queue, best score first, leftmost first on ties.
//   3. Pop the best pair, merge it into its left symbol (a doubly linked list makes this
//      O(1)), queue the two new pairs it forms with its neighbours. Queue entries made
//      stale by earlier merges are recognised and skipped, so each step is O(log n) and
//      the whole encoding O(n log n) — no rescans.
//   4. Each final symbol is its piece id; an UNUSED piece is split back into the two
//      pieces it was merged from; a symbol outside the vocabulary becomes its UTF-8
//      bytes as <0xHH> pieces (byte fallback) or <unk>.
//
// Only NORMAL, USER_DEFINED and UNUSED pieces can be formed from text: CONTROL pieces
// (<s>, </s>), <unk> and BYTE pieces are never matched, whatever the text says.
import { PieceType, pieceByte, type Vocabulary } from './vocabulary.js';

const utf8Encoder = new TextEncoder();

interface Pair {
  left: number; // symbol index of the left half (the merged symbol keeps it)
  right: number; // symbol index of the right half
  score: number; // score of the merged piece
  length: number; // UTF-16 length of the merged piece, to detect stale entries
}

// Max-heap of pairs: higher score first, then smaller left index (SentencePiece's order).
class PairQueue {
  private heap: Pair[] = [];

  get size(): number {
    return this.heap.length;
  }

  private before(a: Pair, b: Pair): boolean {
    return a.score > b.score || (a.score === b.score && a.left < b.left);
  }

  push(p: Pair): void {
    const h = this.heap;
    let i = h.length;
    h.push(p);
    // Move parents down until p's place is found.
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(p, h[parent])) break;
      h[i] = h[parent];
      i = parent;
    }
    h[i] = p;
  }

  pop(): Pair {
    const h = this.heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length === 0) return top;
    // Move the better child up until the last entry's place is found.
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= h.length) break;
      if (child + 1 < h.length && this.before(h[child + 1], h[child])) child++;
      if (!this.before(h[child], last)) break;
      h[i] = h[child];
      i = child;
    }
    h[i] = last;
    return top;
  }
}

export class BpeEncoder {
  private readonly mergeable = new Map<string, number>(); // piece → id, for pieces text may form
  private readonly userDefined = new Map<string, string[]>(); // first character → pieces, longest first
  private readonly byteIds = new Int32Array(256).fill(-1); // byte → id of its <0xHH> piece

  constructor(private readonly vocab: Vocabulary) {
    vocab.pieces.forEach((piece, id) => {
      const type = vocab.types[id];
      if (type === PieceType.NORMAL || type === PieceType.USER_DEFINED || type === PieceType.UNUSED) {
        if (!this.mergeable.has(piece)) this.mergeable.set(piece, id); // first id wins on duplicates
      }
      if (type === PieceType.USER_DEFINED && piece.length > 0) {
        const first = String.fromCodePoint(piece.codePointAt(0)!);
        const list = this.userDefined.get(first) ?? [];
        list.push(piece);
        this.userDefined.set(first, list);
      }
      if (type === PieceType.BYTE && this.byteIds[pieceByte(piece)] < 0) this.byteIds[pieceByte(piece)] = id;
    });
    for (const list of this.userDefined.values()) list.sort((a, b) => b.length - a.length);
  }

  // Piece ids for a normalized string (spaces already ▁).
  encode(text: string): number[] {
    // Symbols: a doubly linked list over [start, end) spans of `text` (UTF-16 offsets).
    // A merged-away symbol gets start === end. Index i is the i-th initial symbol.
    const n = text.length; // an upper bound on the symbol count
    const start = new Int32Array(n); // [symbols] span start
    const end = new Int32Array(n); // [symbols] span end
    const prev = new Int32Array(n); // [symbols] previous live symbol, -1 at the start
    const next = new Int32Array(n); // [symbols] next live symbol, -1 at the end
    const frozen = new Uint8Array(n); // [symbols] 1 for user-defined pieces: never merged
    let count = 0;
    for (let pos = 0; pos < n; count++) {
      const len = this.symbolLength(text, pos);
      frozen[count] = len > 0 ? 1 : 0;
      start[count] = pos;
      pos += len > 0 ? len : text.codePointAt(pos)! > 0xffff ? 2 : 1;
      end[count] = pos;
      prev[count] = count - 1;
      next[count] = pos < n ? count + 1 : -1;
    }

    const queue = new PairQueue();
    const unusedHalves = new Map<string, [string, string]>(); // UNUSED piece → what it was merged from
    const tryPair = (left: number, right: number): void => {
      if (left < 0 || right < 0 || frozen[left] || frozen[right]) return;
      const piece = text.slice(start[left], end[right]);
      const id = this.mergeable.get(piece);
      if (id === undefined) return;
      queue.push({ left, right, score: this.vocab.scores[id], length: piece.length });
      if (this.vocab.types[id] === PieceType.UNUSED) {
        unusedHalves.set(piece, [text.slice(start[left], end[left]), text.slice(start[right], end[right])]);
      }
    };
    for (let i = 1; i < count; i++) tryPair(i - 1, i);

    while (queue.size > 0) {
      const { left, right, length } = queue.pop();
      // Stale if either half was merged away or grew since this entry was queued.
      const leftLen = end[left] - start[left];
      const rightLen = end[right] - start[right];
      if (leftLen === 0 || rightLen === 0 || leftLen + rightLen !== length) continue;
      end[left] = end[right];
      start[right] = end[right];
      next[left] = next[right];
      if (next[right] >= 0) prev[next[right]] = left;
      tryPair(prev[left], left);
      tryPair(left, next[left]);
    }

    const ids: number[] = [];
    if (count > 0) {
      for (let i = 0; i !== -1; i = next[i]) this.emit(text.slice(start[i], end[i]), unusedHalves, ids);
    }
    return ids;
  }

  // UTF-16 length of the user-defined piece starting at `pos`, or 0 if none does.
  private symbolLength(text: string, pos: number): number {
    if (this.userDefined.size === 0) return 0;
    const first = String.fromCodePoint(text.codePointAt(pos)!);
    for (const piece of this.userDefined.get(first) ?? []) {
      if (text.startsWith(piece, pos)) return piece.length;
    }
    return 0;
  }

  // Appends the ids for one final symbol.
  private emit(piece: string, unusedHalves: Map<string, [string, string]>, ids: number[]): void {
    const id = this.mergeable.get(piece);
    if (id !== undefined) {
      const halves = this.vocab.types[id] === PieceType.UNUSED ? unusedHalves.get(piece) : undefined;
      if (halves) {
        this.emit(halves[0], unusedHalves, ids);
        this.emit(halves[1], unusedHalves, ids);
      } else {
        ids.push(id);
      }
    } else if (this.vocab.byteFallback) {
      for (const b of utf8Encoder.encode(piece)) {
        const byteId = this.byteIds[b];
        ids.push(byteId >= 0 ? byteId : this.vocab.unkId);
      }
    } else {
      ids.push(this.vocab.unkId);
    }
  }
}
