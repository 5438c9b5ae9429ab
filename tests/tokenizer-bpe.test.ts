// The BPE merge rules on small hand-made vocabularies, where the right answer can be
// worked out by hand, plus a large-input sanity run.
import { describe, expect, test } from 'vitest';
import { Tokenizer } from '../src/tokenizer/tokenizer.js';
import { normalize } from '../src/tokenizer/normalize.js';
import { PieceType, type Vocabulary } from '../src/tokenizer/vocabulary.js';
import { LLAMA_MODEL, tokenizer } from './tokenizer-data.js';

const { NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE } = PieceType;

// <unk> <s> </s>, then the given pieces; no dummy prefix unless asked, so the merges
// are easy to follow.
function vocab(pieces: [string, number, number?][], options: Partial<Vocabulary> = {}): Vocabulary {
  const all: [string, number, number][] = [['<unk>', 0, UNKNOWN], ['<s>', 0, CONTROL], ['</s>', 0, CONTROL], ...pieces.map(([p, s, t]) => [p, s, t ?? NORMAL] as [string, number, number])];
  return {
    pieces: all.map((p) => p[0]),
    scores: Float32Array.from(all, (p) => p[1]),
    types: Uint8Array.from(all, (p) => p[2]),
    unkId: 0,
    bosId: 1,
    eosId: 2,
    padId: -1,
    addDummyPrefix: false,
    removeExtraWhitespaces: false,
    byteFallback: false,
    escapeWhitespaces: true,
    ...options,
  };
}

// Encodes and returns the pieces, which read better than ids.
function pieces(t: Tokenizer, s: string): string[] {
  return t.encode(s).map((id) => t.vocab.pieces[id]);
}

describe('merge order', () => {
  test('the best-scoring pair merges first, wherever it is', () => {
    const t = new Tokenizer(vocab([['a', 0], ['b', 0], ['ab', 1], ['ba', 2]]));
    expect(pieces(t, 'aba')).toEqual(['a', 'ba']);
  });

  test('equal scores: the leftmost pair merges first', () => {
    const t = new Tokenizer(vocab([['a', 0], ['b', 0], ['ab', 1], ['ba', 1]]));
    expect(pieces(t, 'aba')).toEqual(['ab', 'a']);
    expect(pieces(t, 'bab')).toEqual(['ba', 'b']);
  });

  test('a piece is only reached through pieces that exist', () => {
    const t = new Tokenizer(vocab([['a', 0], ['b', 0], ['c', 0], ['abc', 5]]));
    expect(pieces(t, 'abc')).toEqual(['a', 'b', 'c']);
    const t2 = new Tokenizer(vocab([['a', 0], ['b', 0], ['c', 0], ['bc', 1], ['abc', 5]]));
    expect(pieces(t2, 'abc')).toEqual(['abc']);
  });

  test('merges chain: new neighbours are queued after each merge', () => {
    const t = new Tokenizer(vocab([['a', 0], ['aa', 1], ['aaaa', 2], ['aaaaaaaa', 3]]));
    expect(pieces(t, 'a'.repeat(8))).toEqual(['aaaaaaaa']);
    expect(pieces(t, 'a'.repeat(11))).toEqual(['aaaaaaaa', 'aa', 'a']);
  });

  test('code points, not UTF-16 units, are the starting symbols', () => {
    const t = new Tokenizer(vocab([['😀', 0], ['x', 0], ['😀x', 1]]));
    expect(pieces(t, '😀x😀')).toEqual(['😀x', '😀']);
  });
});

describe('piece types', () => {
  test('CONTROL pieces are never produced from text', () => {
    const t = new Tokenizer(vocab([['a', 0], ['b', 0], ['ab', 0, CONTROL]]));
    expect(pieces(t, 'ab')).toEqual(['a', 'b']);
    const llama = tokenizer(LLAMA_MODEL);
    expect(llama.encode('<s></s>')).not.toContain(1);
    expect(llama.encode('<s></s>')).not.toContain(2);
    expect(llama.encode('<0x41>')).not.toContain(3 + 0x41); // byte pieces are not matched as text either
  });

  test('USER_DEFINED pieces are taken whole, longest first, and never merged', () => {
    const t = new Tokenizer(vocab([['a', 0], ['b', 0], ['x', 0], ['ax', 9], ['<x>', 0, USER_DEFINED], ['<x>>', 0, USER_DEFINED], ['>', 0]]));
    expect(pieces(t, 'a<x>b')).toEqual(['a', '<x>', 'b']);
    expect(pieces(t, 'a<x>>b')).toEqual(['a', '<x>>', 'b']);
    expect(pieces(t, 'ax')).toEqual(['ax']);
  });

  test('UNUSED pieces may be merge steps but are split back in the output', () => {
    const t = new Tokenizer(vocab([['a', 0], ['b', 0], ['c', 0], ['ab', 2, UNUSED], ['abc', 1]]));
    expect(pieces(t, 'abc')).toEqual(['abc']);
    expect(pieces(t, 'ab')).toEqual(['a', 'b']);
  });

  test('unknown characters: <unk> without byte fallback, <0xHH> pieces with it', () => {
    const bytes: [string, number, number][] = [['<0xC3>', 0, BYTE], ['<0xA4>', 0, BYTE]];
    const plain = new Tokenizer(vocab([['a', 0], ...bytes]));
    expect(plain.encode('aäa')).toEqual([3, 0, 3]);
    const fallback = new Tokenizer(vocab([['a', 0], ...bytes], { byteFallback: true }));
    expect(pieces(fallback, 'aäa')).toEqual(['a', '<0xC3>', '<0xA4>', 'a']);
    expect(fallback.decode(fallback.encode('aäa'))).toBe('aäa');
    // a byte with no piece of its own falls back to <unk>: ö is C3 B6
    expect(pieces(fallback, 'ö')).toEqual(['<0xC3>', '<unk>']);
  });
});

describe('normalization (SentencePiece normalizer.cc)', () => {
  const o = { addDummyPrefix: true, removeExtraWhitespaces: true, escapeWhitespaces: true };

  test('dummy prefix only for non-empty text', () => {
    expect(normalize('', { ...o, removeExtraWhitespaces: false })).toBe('');
    expect(normalize(' ', { ...o, removeExtraWhitespaces: false })).toBe('▁▁');
    expect(normalize('a b', { ...o, removeExtraWhitespaces: false })).toBe('▁a▁b');
    expect(normalize('a b', { ...o, addDummyPrefix: false, removeExtraWhitespaces: false })).toBe('a▁b');
  });

  test('remove_extra_whitespaces trims and collapses spaces only', () => {
    expect(normalize('  a   b  ', o)).toBe('▁a▁b');
    expect(normalize('   ', o)).toBe('');
    expect(normalize(' \t a \n', o)).toBe('▁\t▁a▁\n');
    expect(normalize('a ▁', o)).toBe('▁a'); // trimming works on the escaped text
  });

  test('no escaping keeps plain spaces', () => {
    expect(normalize('a b', { ...o, escapeWhitespaces: false })).toBe(' a b');
  });

  test('NFKC when the model asks for it', () => {
    expect(normalize('ﬁ①', { ...o, nfkc: true })).toBe('▁fi1');
    expect(normalize('ﬁ①', o)).toBe('▁ﬁ①');
  });
});

describe('special ids', () => {
  test('BOS/EOS only when asked; empty text gives no ids', () => {
    const t = tokenizer(LLAMA_MODEL);
    expect(t.encode('')).toEqual([]);
    expect(t.encode('', { bos: true })).toEqual([1]);
    expect(t.encode('', { bos: true, eos: true })).toEqual([1, 2]);
    expect(t.vocabSize).toBe(32000);
  });

  test('a vocabulary without BOS refuses to add one', () => {
    const t = new Tokenizer(vocab([['a', 0]], { bosId: -1 }));
    expect(t.encode('a')).toEqual([3]);
    expect(() => t.encode('a', { bos: true })).toThrow(/no BOS token/);
  });

  test('inconsistent vocabularies are refused', () => {
    expect(() => new Tokenizer(vocab([['a', 0]], { unkId: 99 }))).toThrow(/unkId 99 is outside/);
    expect(() => new Tokenizer({ ...vocab([['a', 0]]), scores: new Float32Array(2) })).toThrow(/2 scores for 4 pieces/);
    expect(() => new Tokenizer(vocab([['a', 0, 7]]))).toThrow(/unknown type 7/);
    expect(() => new Tokenizer(vocab([['a', 0, BYTE]]))).toThrow(/type BYTE but is not <0xHH>/);
  });
});

test('100 KB of text encodes in one pass (O(n log n)) and round-trips', () => {
  // Not timed (shared machine); a quadratic encoder would take minutes here, not ms.
  const t = tokenizer(LLAMA_MODEL);
  const words = ['the', 'little', 'girl', 'saw', 'a', 'big', 'red', 'ball', '😀', 'über', '中文', '\n', '  ', 'zzzzzz'];
  let s = '';
  for (let i = 0; s.length < 100_000; i++) s += words[(i * 7919) % words.length] + ' ';
  const ids = t.encode(s);
  expect(ids.length).toBeGreaterThan(20_000);
  expect(ids.length).toBeLessThan(s.length);
  expect(t.decode(ids)).toBe(s);
  // One long word with no spaces: one symbol list of 100 000 characters.
  const long = 'ab'.repeat(50_000);
  expect(t.decode(t.encode(long))).toBe(long);
});
