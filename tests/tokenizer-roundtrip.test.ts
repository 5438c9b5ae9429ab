// decode(encode(s)) gives s back, the stream decoder agrees with a batch reference
// decoder, and the documented edge cases (lone surrogates, ▁ in text, whitespace
// normalization) behave as documented.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { Tokenizer } from '../src/tokenizer/tokenizer.js';
import { PieceType, pieceByte } from '../src/tokenizer/vocabulary.js';
import { LLAMA_MODEL, TOK512_BIN, TOK512_MODEL, tokenizer } from './tokenizer-data.js';

// Any code point, plus the characters whose handling is special: spaces (runs of them,
// leading, trailing), newlines, tabs, emoji and CJK (byte fallback), pieces of words.
const unit = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 2, arbitrary: fc.constantFrom(' ', '  ', '\n', '\t', ' \n ', 'Hello', ' world', '😀', '中文', 'ä', '\u0000') },
);
// ▁ (U+2581) is SentencePiece's space mark: typed into the text it decodes as a space.
const text = fc.string({ unit, maxLength: 40 }).filter((s) => !s.includes('\u2581'));

// Independent of the tokenizer: UTF-8 round trip through the platform's encoder.
function wellFormed(s: string): string {
  return new TextDecoder().decode(new TextEncoder().encode(s));
}

describe.each([LLAMA_MODEL, TOK512_BIN])('round trip with %s (dummy prefix, no whitespace removal)', (file) => {
  test('decode(encode(s)) === s for arbitrary Unicode text', () => {
    const t = tokenizer(file);
    fc.assert(
      fc.property(text, (s) => {
        expect(t.decode(t.encode(s))).toBe(s);
        expect(t.decode(t.encode(s, { bos: true, eos: true }))).toBe(s);
      }),
      { numRuns: 300 },
    );
  });

  test('leading spaces survive: encode adds one ▁, decode removes exactly one', () => {
    const t = tokenizer(file);
    for (const s of [' ', '  ', ' a', '  a', '\n', ' \n', 'a ', '']) expect(t.decode(t.encode(s))).toBe(s);
  });

  test('lone surrogates become U+FFFD, like TextEncoder', () => {
    const t = tokenizer(file);
    expect(t.decode(t.encode('a\uD800b'))).toBe('a\uFFFDb');
    expect(t.decode(t.encode('\uDC00'))).toBe('\uFFFD');
    expect(t.decode(t.encode('\uD83D\uDE00\uD83D'))).toBe('😀\uFFFD');
    const withSurrogates = fc.string({
      unit: fc.oneof(unit, fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c))),
      maxLength: 30,
    }).filter((s) => !s.includes('\u2581'));
    fc.assert(
      fc.property(withSurrogates, (s) => {
        expect(t.decode(t.encode(s))).toBe(wellFormed(s));
      }),
      { numRuns: 200 },
    );
  });
});

test('▁ typed into the text decodes as a space (SentencePiece cannot tell them apart)', () => {
  const t = tokenizer(LLAMA_MODEL);
  expect(t.decode(t.encode('a\u2581b'))).toBe('a b');
  expect(t.encode('a\u2581b')).toEqual(t.encode('a b'));
});

describe('tok512.model: remove_extra_whitespaces on', () => {
  // What SentencePiece's normalizer keeps: no leading/trailing spaces, no runs of them.
  const collapse = (s: string) => s.replace(/ +/g, ' ').replace(/^ | $/g, '');

  test('decode(encode(s)) === s for already-normalized text', () => {
    const t = tokenizer(TOK512_MODEL);
    fc.assert(
      fc.property(text.map(collapse), (s) => {
        expect(t.decode(t.encode(s))).toBe(s);
      }),
      { numRuns: 300 },
    );
  });

  test('any text decodes to its normalized form', () => {
    const t = tokenizer(TOK512_MODEL);
    expect(t.encode('  Once   upon a time  ', { bos: true })).toEqual([1, 403, 407, 261, 378]);
    expect(t.decode(t.encode('  a  b  '))).toBe('a b');
    expect(t.encode('   ')).toEqual([]);
    fc.assert(
      fc.property(text, (s) => {
        expect(t.decode(t.encode(s))).toBe(collapse(s));
      }),
      { numRuns: 200 },
    );
  });
});

// SentencePiece's decoder written as a batch over the whole id list (runs of byte
// pieces decoded at once, one U+FFFD per byte that does not start a well-formed
// character), to check the incremental stream decoder against.
function referenceDecode(t: Tokenizer, ids: number[]): string {
  const strict = new TextDecoder('utf-8', { fatal: true });
  const decodeRun = (run: number[]): string => {
    let out = '';
    for (let i = 0; i < run.length; ) {
      const lead = run[i];
      const len = lead < 0x80 ? 1 : lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
      try {
        const ch = strict.decode(Uint8Array.from(run.slice(i, i + len)));
        if ([...ch].length !== 1 || i + len > run.length || (len === 1 && lead >= 0x80)) throw new Error('invalid');
        out += ch;
        i += len;
      } catch {
        out += '\uFFFD';
        i += 1;
      }
    }
    return out;
  };
  let text = '';
  let run: number[] = [];
  let atStart = true;
  let consumed = false;
  for (const id of ids) {
    const type = t.vocab.types[id];
    if (type === PieceType.BYTE) {
      run.push(pieceByte(t.vocab.pieces[id]));
      continue;
    }
    text += decodeRun(run);
    run = [];
    if (consumed || text !== '') atStart = false;
    consumed = false;
    if (type === PieceType.CONTROL) continue;
    if (type === PieceType.UNKNOWN) {
      text += ' \u2047 ';
      continue;
    }
    let piece = t.vocab.pieces[id];
    if (atStart && piece.startsWith('\u2581')) {
      piece = piece.slice(1);
      consumed = !t.vocab.removeExtraWhitespaces;
    }
    text += piece.replaceAll('\u2581', ' ');
  }
  return text + decodeRun(run);
}

describe('stream decoder', () => {
  const streamed = (t: Tokenizer, ids: number[]) => {
    const d = t.createStreamDecoder();
    const parts = ids.map((id) => d.push(id));
    return { parts, text: parts.join('') + d.flush() };
  };

  test('emoji and CJK split across byte pieces come out whole, at their last byte', () => {
    const t = tokenizer(LLAMA_MODEL);
    const s = '😀 (smile) 🚀🎉 中文 ⓪ \u{10FFFD}';
    const ids = t.encode(s, { bos: true });
    const { parts, text } = streamed(t, ids);
    expect(text).toBe(s);
    expect(text).toBe(t.decode(ids));
    // 😀 is 4 byte pieces (F0 9F 98 80): nothing until the 4th, then the whole character.
    expect(ids.slice(0, 6)).toEqual([1, 29871, 243, 162, 155, 131]); // BOS, ▁, <0xF0> <0x9F> <0x98> <0x80>
    const first = ids.indexOf(t.vocab.pieces.indexOf('<0xF0>'));
    expect(parts.slice(first, first + 4)).toEqual(['', '', '', '😀']);
    for (const p of parts) expect(p).not.toContain('\uFFFD');
  });

  test('pushes + flush equal a batch reference decoder, for arbitrary ids', () => {
    for (const file of [LLAMA_MODEL, TOK512_MODEL]) {
      const t = tokenizer(file);
      const id = fc.oneof(
        fc.integer({ min: 3, max: 258 }), // byte pieces, to make partial and invalid UTF-8
        fc.integer({ min: 0, max: t.vocabSize - 1 }),
      );
      fc.assert(
        fc.property(fc.array(id, { maxLength: 30 }), (ids) => {
          const expected = referenceDecode(t, ids);
          expect(streamed(t, ids).text).toBe(expected);
          expect(t.decode(ids)).toBe(expected);
        }),
        { numRuns: 300 },
      );
    }
  });

  test('invalid and cut-off UTF-8 become one U+FFFD per byte, as SentencePiece does', () => {
    const t = tokenizer(LLAMA_MODEL);
    const byte = (b: number) => t.vocab.pieces.indexOf(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    expect(t.decode([0xe2, 0x96].map(byte))).toBe('\uFFFD\uFFFD'); // cut off
    expect(t.decode([0xc0, 0xaf].map(byte))).toBe('\uFFFD\uFFFD'); // overlong
    expect(t.decode([0xed, 0xa0, 0x80].map(byte))).toBe('\uFFFD\uFFFD\uFFFD'); // surrogate
    expect(t.decode([...[0xe2, 0x96].map(byte), 15043])).toBe('\uFFFD\uFFFD Hello'); // a piece ends the run
    const d = t.createStreamDecoder();
    expect(d.push(byte(0xe4))).toBe('');
    expect(d.flush()).toBe('\uFFFD');
  });

  test('decodePiece follows run.c: raw bytes, no leading space after BOS', () => {
    const t = tokenizer(LLAMA_MODEL);
    const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
    expect(text(t.decodePiece(1, 9038))).toBe('Once');
    expect(text(t.decodePiece(9038, 2501))).toBe(' upon');
    expect(Array.from(t.decodePiece(2501, 3 + 0x0a))).toEqual([0x0a]);
    expect(Array.from(t.decodePiece(2501, 3 + 0xf0))).toEqual([0xf0]);
    expect(t.decodePiece(0, 2).length).toBe(0); // </s> is invisible
  });

  test('leading space handling: only the dummy prefix is dropped', () => {
    const t = tokenizer(LLAMA_MODEL);
    expect(t.decode([1, 29871, 15043])).toBe(' Hello'); // "▁" then "▁Hello": the first ▁ was the prefix
    expect(t.decode([1, 15043, 1, 15043])).toBe('Hello Hello'); // a second BOS does not restart the text
    expect(t.decode([0, 15043])).toBe(' \u2047  Hello'); // <unk> is " ⁇ " and is text
  });

  test('ids outside the vocabulary are an error, not undefined text', () => {
    const t = tokenizer(LLAMA_MODEL);
    expect(() => t.decode([32000])).toThrow(/token id 32000 is outside the vocabulary/);
    expect(() => t.createStreamDecoder().push(-1)).toThrow(/outside the vocabulary/);
  });
});
