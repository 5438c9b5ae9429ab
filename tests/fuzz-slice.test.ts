// A short slice of the fuzz campaign (bench/fuzz/, `npm run fuzz`) on every test run: each
// target with a fixed seed, in this process, judged as the fuzzer judges (a correct result
// or a plain Error naming the file; no other exception, no allocation over the bound, no
// case over the deadline). The case counts follow the targets' weights (40 per unit, 50 to
// 1500) times FUZZ_SLICE_SCALE (default 8: a few thousand cases for most targets, about 25,000
// in all, under a minute on an idle 2-core machine); FUZZ_SLICE_SCALE=80 runs ten times as many. The long prompts are 128 K characters here (1 M in a campaign).
import { afterAll, describe, expect, test } from 'vitest';
import { runBatch, TARGETS } from '../bench/fuzz/batch.js';
import { installMemoryGuard } from '../bench/fuzz/run-case.js';
import { removeFuzzFolders } from '../bench/fuzz/targets-files.js';
import { LONG_PROMPT } from '../bench/fuzz/targets-text.js';

const SCALE = Number(process.env.FUZZ_SLICE_SCALE ?? 8);
const SEED = 20261204;
const DEADLINE_MS = 5000; // per case, plus 20 ms per KB of input (run-case.ts); generous for a loaded CI machine

installMemoryGuard();
LONG_PROMPT.chars = 1 << 17;

describe('fuzz slice', () => {
  afterAll(removeFuzzFolders);

  test('every target is in the slice', () => {
    expect(TARGETS.map((t) => t.name)).toEqual(expect.arrayContaining([
      'gguf', 'gguf-real', 'llama2c', 'llama2c-real', 'spm-model', 'llama2c-tokenizer', 'gguf-vocab', 'tokenizer-json',
      'safetensors', 'conform-dump', 'hf-folder', 'tokenize', 'tokenize-long', 'generate', 'eval-jsonl', 'chat-template',
    ]));
  });

  for (const target of TARGETS) {
    // Whole forward passes and megabyte prompts cost about half a second each: a few of those.
    const cases = target.name === 'tokenize-long' ? Math.ceil(SCALE / 2) : target.name === 'generate' ? 5 * SCALE : Math.round(Math.min(1500, Math.max(50, target.weight * 40)) * SCALE);
    test(`${target.name}: ${cases} cases`, async () => {
      const stats = await runBatch(target, SEED, cases, DEADLINE_MS);
      const d = stats.defect;
      expect(d ? `${d.kind}: ${d.message} (replay: seed ${d.seed}, path ${d.path})` : 'clean').toBe('clean');
      expect(stats.ran).toBe(cases);
      expect(stats.ok + stats.refused).toBe(cases);
      // Some mutated inputs must still load: a slice of nothing but refusals would test little.
      expect(stats.ok, `${target.name}: ${stats.ok} loaded, ${stats.refused} refused`).toBeGreaterThan(0);
    });
  }
});
