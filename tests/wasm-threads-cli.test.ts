// Threads end to end on the real stories260K: the same greedy story at 1 and 2 threads
// through the built CLI (dist/cli.js; `npm test` builds first), the process exiting on its
// own right after, `llama-ts quantize` followed by generate, and — since stories260K's
// matrices are below the size where the CLI splits work — the library with every call
// forced through the workers.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forward } from '../reference/model.js';
import type { LlamaModel } from '../reference/weights.js';
import { createModelKernels } from '../src/backends/wasm/kernels.js';
import { loadModel } from '../src/formats/load-file.js';
import { ensureWasmBuilt, wasmPath } from './wasm-helpers.js';

const root = resolve(__dirname, '..');
const data = resolve(root, '../shared/data');
const model = `${data}/stories260K/stories260K.bin`;
const tok512 = `${data}/stories260K/tok512.bin`;
const cli = (args: string[]) =>
  spawnSync(process.execPath, [join(root, 'dist/cli.js'), ...args], { encoding: 'utf8', timeout: 60_000 });

// ../shared/data/README.md: llama2.c's run.c, greedy, on stories260K with tok512.
const STORY =
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.\nLily\n';
const greedyArgs = ['--prompt', 'Once upon a time', '--max-tokens', '60', '--temperature', '0'];

let dir: string;
beforeAll(() => {
  ensureWasmBuilt();
  dir = mkdtempSync(join(tmpdir(), 'llama-ts-threads-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('generate --threads', () => {
  for (const threads of ['1', '2']) {
    it(`--threads ${threads}: prints run.c's story and exits by itself`, () => {
      const start = performance.now();
      const r = cli(['generate', '--model', model, '--tokenizer', tok512, ...greedyArgs, '--threads', threads]);
      expect(r.error).toBeUndefined(); // not killed by the timeout
      expect(r.signal).toBeNull();
      expect(r.status).toBe(0);
      expect(r.stdout).toBe(STORY);
      expect(performance.now() - start).toBeLessThan(30_000);
    });
  }

  it('refuses a bad thread count, naming the flag', () => {
    const r = cli(['generate', '--model', model, '--tokenizer', tok512, '--threads', '1.5']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/--threads expects an integer, got 1\.5/);
    const zero = cli(['generate', '--model', model, '--tokenizer', tok512, '--threads', '0']);
    expect(zero.stderr).toMatch(/threads must be an integer in 1\.\.256, got 0/);
  });
});

describe('quantize, then generate', () => {
  it('llama-ts quantize stories260K.bin --type q8_0 --tokenizer tok512.bin runs without a tokenizer file', () => {
    const out = join(dir, 'stories-q8.gguf');
    const q = cli(['quantize', model, out, '--type', 'q8_0', '--tokenizer', tok512]);
    expect(q.status).toBe(0);
    expect(q.stderr).toMatch(/wrote .*stories-q8\.gguf: 31 matrices as q8_0, 5 as f16 \(rows not whole blocks\)/);
    const r = cli(['generate', '--model', out, ...greedyArgs, '--threads', '2']);
    expect(r.status).toBe(0);
    // q8_0 keeps the greedy story at least through its first sentence
    expect(r.stdout.startsWith('Once upon a time, there was a little girl named Lily.')).toBe(true);
  });

  it('needs --type', () => {
    const r = cli(['quantize', model, join(dir, 'x.gguf')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/quantize needs --type \(q8_0, q4_0, q4_1, q5_0, q5_1, iq4_nl, q2_k, q3_k, q4_k, q5_k, q6_k, f16, q3_k_s, q3_k_m, q3_k_l, q4_k_s, q4_k_m, q5_k_s, q5_k_m\)/);
  });
});

describe('stories260K with every call split across threads', () => {
  async function greedy(m: LlamaModel, threads: number): Promise<number[]> {
    const k = await createModelKernels(m, { wasmPath, threads, minParallelWork: 0, maxMemoryBytes: 1 << 26, contextLength: 80 });
    try {
      const cache = k.createKVCache(m.config, 80);
      const tokens = [1, 403, 407, 261, 378]; // BOS "Once upon a time"
      let logits = forward(m, k, cache, tokens, 0);
      while (tokens.length < 64) {
        let best = 0;
        for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
        tokens.push(best);
        logits = forward(m, k, cache, [best], tokens.length - 1);
      }
      if (threads > 1) expect(k.parallelJobs()).toBeGreaterThan(60 * 5 * 7);
      return tokens;
    } finally {
      await k.close();
    }
  }

  it('2 and 3 threads pick the same 59 tokens as 1', async () => {
    const m = loadModel(model).model;
    const want = await greedy(m, 1);
    expect(await greedy(m, 2)).toEqual(want);
    expect(await greedy(m, 3)).toEqual(want);
  });
});
