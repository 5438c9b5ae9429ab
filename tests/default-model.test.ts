// The embedded default model (models/kjv.gguf, trained by scripts/train-default.sh): what the
// README's first command runs, with no other file.
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { expect, test } from 'vitest';
import { loadLlama } from '../src/llama.js';

const root = resolve(__dirname, '..');
const cli = (args: string[]) => spawnSync(process.execPath, [join(root, 'dist/cli.js'), ...args], { encoding: 'utf8', timeout: 120_000 });

test('llama-ts generate with no --model runs the embedded KJV model', () => {
  const r = cli(['generate', '--prompt', 'In the beginning', '--max-tokens', '60', '--seed', '1']);
  expect(r.status, r.stderr).toBe(0);
  expect(r.stdout.startsWith('In the beginning')).toBe(true);
  expect(r.stdout.length).toBeGreaterThan(120);
  expect(r.stderr).toMatch(/tok\/s/);
  expect(cli(['generate', '--prompt', 'In the beginning', '--max-tokens', '60', '--seed', '1']).stdout).toBe(r.stdout);
});

test('the embedded model is small, has its tokenizer inside, and writes like the King James Bible', async () => {
  const llama = await loadLlama({ backend: 'ts' });
  const c = llama.model.config;
  let params = 0;
  for (const t of [llama.model.weights.tokenEmbedding, llama.model.weights.output]) params += t.rows * t.cols;
  for (const l of llama.model.weights.layers) for (const m of [l.wq, l.wk, l.wv, l.wo, l.w1, l.w2, l.w3]) params += m.rows * m.cols;
  expect(params * 4).toBeLessThan(5 * 1024 * 1024); // at most ~5 MB of f32 weights
  expect(c.nKvHeads).toBeLessThan(c.nHeads); // grouped KV heads
  let text = '';
  for await (const piece of llama.generate('And God said', { maxTokens: 200, temperature: 0 })) text += piece;
  await llama.close();
  // Greedy text from a model trained on the KJV uses its commonest words.
  const words = text.toLowerCase().match(/[a-z]+/g) ?? [];
  const kjv = new Set(['the', 'and', 'of', 'unto', 'he', 'lord', 'shall', 'that', 'his', 'i', 'in', 'a', 'they', 'them', 'to', 'be', 'is', 'said', 'god', 'thou', 'thee', 'ye', 'my', 'for', 'was', 'him', 'with', 'all', 'not', 'it', 'which']);
  expect(words.length).toBeGreaterThan(60);
  expect(words.filter((w) => kjv.has(w)).length / words.length).toBeGreaterThan(0.3);
});
