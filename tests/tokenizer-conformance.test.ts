// Encodings that must match SentencePiece exactly: llama.cpp's 46 conformance cases
// (made by the Hugging Face Llama-2 tokenizer, no BOS) from each of the three files that
// hold the LLaMA vocabulary, and the known encodings from ../shared/data/README.md.
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import {
  LLAMA_BIN, LLAMA_GGUF, LLAMA_MODEL, STORIES_GGUF, TOK512_BIN, TOK512_MODEL, dataPath, tokenizer,
} from './tokenizer-data.js';

// .inp: each input followed by the line "__ggml_vocab_test__" (so the file ends with
// "\n__ggml_vocab_test__\n"); an input may itself be empty or contain newlines.
// .out: one line of space-separated ids per input (an empty line for no ids).
function conformanceCases(): { input: string; ids: number[] }[] {
  const inp = readFileSync(dataPath(`${LLAMA_GGUF}.inp`), 'utf8');
  const out = readFileSync(dataPath(`${LLAMA_GGUF}.out`), 'utf8');
  const inputs = inp.split('\n__ggml_vocab_test__\n');
  expect(inputs.pop()).toBe(''); // nothing after the last separator
  const lines = out.split('\n');
  expect(lines.pop()).toBe(''); // the file ends with a newline
  expect(lines.length).toBe(inputs.length);
  return inputs.map((input, i) => ({
    input,
    ids: lines[i].trim() === '' ? [] : lines[i].trim().split(/ +/).map(Number),
  }));
}

const cases = conformanceCases();

test('the conformance files hold 46 cases, parsed as llama.cpp does', () => {
  expect(cases.length).toBe(46);
  expect(cases[0]).toEqual({ input: 'ied 4 ½ months', ids: [474, 287, 29871, 29946, 29871, 30226, 7378] });
  expect(cases[2]).toEqual({ input: '', ids: [] });
  expect(cases[7]).toEqual({ input: '\n', ids: [29871, 13] });
});

describe.each([LLAMA_MODEL, LLAMA_BIN, LLAMA_GGUF])('llama.cpp conformance cases from %s', (file) => {
  test.each(cases.map((c, i) => [i, JSON.stringify(c.input).slice(0, 60), c] as const))('case %i: %s', (_i, _name, c) => {
    expect(tokenizer(file).encode(c.input)).toEqual(c.ids);
  });
});

describe('known encodings (../shared/data/README.md)', () => {
  test.each([TOK512_BIN, TOK512_MODEL, STORIES_GGUF])('%s: Once upon a time', (file) => {
    expect(tokenizer(file).encode('Once upon a time', { bos: true })).toEqual([1, 403, 407, 261, 378]);
  });

  test.each([LLAMA_MODEL, LLAMA_BIN, LLAMA_GGUF])('%s: LLaMA prompts', (file) => {
    const t = tokenizer(file);
    expect(t.encode('Once upon a time', { bos: true })).toEqual([1, 9038, 2501, 263, 931]);
    expect(t.encode('Hello world', { bos: true })).toEqual([1, 15043, 3186]);
    expect(t.encode('I believe the meaning of life is', { bos: true })).toEqual([1, 306, 4658, 278, 6593, 310, 2834, 338]);
    expect(t.encode('Hello world', { bos: true, eos: true })).toEqual([1, 15043, 3186, 2]);
  });

  test('the three LLaMA files describe the same vocabulary', () => {
    const [a, b, c] = [LLAMA_MODEL, LLAMA_BIN, LLAMA_GGUF].map((f) => tokenizer(f).vocab);
    expect(a.pieces.length).toBe(32000);
    // llama2.c's export writes BOS and EOS as "\n<s>\n" and "\n</s>\n"; all else is equal.
    expect(b.pieces.slice(0, 3)).toEqual(['<unk>', '\n<s>\n', '\n</s>\n']);
    expect(b.pieces.slice(3)).toEqual(a.pieces.slice(3));
    expect(c.pieces).toEqual(a.pieces);
    expect(Array.from(b.scores)).toEqual(Array.from(a.scores));
    expect(Array.from(c.scores)).toEqual(Array.from(a.scores));
    expect(Array.from(b.types)).toEqual(Array.from(a.types));
    expect(Array.from(c.types)).toEqual(Array.from(a.types));
    // 1 unknown, 2 control, 256 byte, 31741 normal (README)
    const counts = [0, 0, 0, 0, 0, 0, 0];
    for (const t of a.types) counts[t]++;
    expect(counts).toEqual([0, 31741, 1, 2, 0, 0, 256]);
  });

  test('decoding the README prompts gives the text back', () => {
    const t = tokenizer(LLAMA_MODEL);
    expect(t.decode([1, 9038, 2501, 263, 931])).toBe('Once upon a time');
    expect(t.decode([1, 306, 4658, 278, 6593, 310, 2834, 338, 2])).toBe('I believe the meaning of life is');
    expect(tokenizer(TOK512_BIN).decode([1, 403, 407, 261, 378])).toBe('Once upon a time');
  });
});
