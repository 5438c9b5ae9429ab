// Every input the fuzzer ever caught (bench/fuzz/regressions/<target>/<kind>-<hash>.<ext>,
// minimized by fast-check) is replayed through its target on every test run: each must now
// load, or fail with a plain Error that names the file, within the deadline and the memory
// bound (bench/fuzz/run-case.ts judges it exactly as the fuzzer did).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { targetNamed } from '../bench/fuzz/batch.js';
import { byteLevelVocab } from '../bench/fuzz/seeds.js';
import { ByteLevelBpeTokenizer } from '../src/tokenizer/byte-level-bpe.js';
import { installMemoryGuard, runCase } from '../bench/fuzz/run-case.js';

const DIR = fileURLToPath(new URL('../bench/fuzz/regressions', import.meta.url));
const files = readdirSync(DIR).flatMap((target) => readdirSync(join(DIR, target)).map((file) => ({ target, file })));

installMemoryGuard();

describe('fuzz regressions', () => {
  test('there are regression files, each under a known target', () => {
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const { target } of files) expect(() => targetNamed(target)).not.toThrow();
  });

  for (const { target, file } of files) {
    test(`${target}/${file}`, async () => {
      const t = targetNamed(target);
      const result = await runCase(t, t.decode(new Uint8Array(readFileSync(join(DIR, target, file)))), 10_000);
      expect(result.verdict === 'defect' ? `${result.kind}: ${result.message}` : 'clean').toBe('clean');
      expect(['ok', 'refused']).toContain(result.verdict);
    });
  }
});

// Found by the campaign, but only over many cases, so no one file replays it: the byte-level
// tokenizer cached every word it met, with its ids, for the next 65536 words, megabyte-long
// "words" of hostile prompts included; a worker tokenizing 1 MB prompts ran out of its
// 512 MB heap. Long words are no longer cached.
test('byte-level BPE does not keep long words in its cache', () => {
  const t = new ByteLevelBpeTokenizer(byteLevelVocab(), 'vocab');
  const cache = (t as unknown as { wordCache: Map<string, number[]> }).wordCache; // private: the bound is the point
  for (let i = 0; i < 20; i++) expect(t.encode(String.fromCodePoint(0x10000 + i).repeat(5000), { bos: false })).toHaveLength(20_000);
  expect([...cache.keys()].filter((w) => w.length > 64)).toEqual([]);
  t.encode('the the aa', { bos: false });
  expect(cache.size).toBeGreaterThan(0); // short words still are
});
