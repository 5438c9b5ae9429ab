// The embedded default model (models/kjv.gguf, trained by `PRESET=v2 scripts/train-default.sh`):
// what the README's first command runs, with no other file. Its numbers are in the README's
// "The default model" and in models/kjv-eval.json; these tests hold the file to them.
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expect, test } from 'vitest';
import { loadLlama } from '../src/llama.js';

const root = resolve(__dirname, '..');
const MODEL = join(root, 'models/kjv.gguf');
const SPM_MODEL = join(root, 'models/kjv.model');
const HELDOUT = join(root, 'models/tasks/kjv-heldout.txt');
const cli = (args: string[]) => spawnSync(process.execPath, [join(root, 'dist/cli.js'), ...args], { encoding: 'utf8', timeout: 300_000 });

// Held-out perplexity at the model's context (256), all of kjv-heldout.txt: 16.77 ± 0.42 as the
// training script measured it (models/kjv-eval.json). The bound is the old 1.0M model's score
// at its context of 128 on the same text (17.86) less its uncertainty (0.43), rounded down.
const HELDOUT_PPL_BOUND = 17.4;

test('llama-ts generate with no --model runs the embedded KJV model', () => {
  const r = cli(['generate', '--prompt', 'In the beginning', '--max-tokens', '60', '--seed', '1']);
  expect(r.status, r.stderr).toBe(0);
  expect(r.stdout.startsWith('In the beginning')).toBe(true);
  expect(r.stdout.length).toBeGreaterThan(120);
  expect(r.stderr).toMatch(/tok\/s/);
  expect(cli(['generate', '--prompt', 'In the beginning', '--max-tokens', '60', '--seed', '1']).stdout).toBe(r.stdout);
});

test('the embedded model: 5-20M parameters in Q8_0, at most 20 MB, context 256, and it writes like the King James Bible', async () => {
  expect(statSync(MODEL).size).toBeLessThan(20 * 1024 * 1024);
  const llama = await loadLlama({ threads: 1 });
  const c = llama.model.config;
  const w = llama.model.weights;
  let params = 0;
  for (const t of [w.tokenEmbedding, w.output]) params += t.rows * t.cols;
  for (const l of w.layers) for (const m of [l.wq, l.wk, l.wv, l.wo, l.w1, l.w2, l.w3]) params += m.rows * m.cols;
  expect(params).toBeGreaterThan(5e6 - 1e5); // issue 20: "around 5-20M parameters"
  expect(params).toBeLessThan(20e6);
  expect(w.layers[0].wq.dtype).toBe('q8_0');
  expect(c.maxSeqLen).toBeGreaterThanOrEqual(256);
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

test("the tokenizer inside the GGUF is models/kjv.model's: the same ids as Google's sentencepiece on the held-out text", async () => {
  const lines = readFileSync(HELDOUT, 'utf8').split('\n').filter((l) => l.length > 0).slice(0, 200);
  const script = [
    'import json, sys, sentencepiece as spm',
    'sp = spm.SentencePieceProcessor(model_file=sys.argv[1])',
    'print(json.dumps({"size": sp.get_piece_size(), "ids": [sp.encode(l) for l in json.load(sys.stdin)]}))',
  ].join('\n');
  const py = spawnSync('/usr/bin/python3', ['-c', script, SPM_MODEL], { input: JSON.stringify(lines), encoding: 'utf8', maxBuffer: 64 << 20 });
  expect(py.status, py.stderr).toBe(0);
  const spm = JSON.parse(py.stdout) as { size: number; ids: number[][] };
  const llama = await loadLlama({ backend: 'ts' });
  try {
    expect(llama.model.config.vocabSize).toBe(spm.size);
    const ours = lines.map((l) => llama.tokenizer.encode(l));
    expect(ours).toEqual(spm.ids);
    expect(ours.flat().length).toBeGreaterThan(5000); // a real sample, not a few words
    for (let i = 0; i < lines.length; i++) expect(llama.tokenizer.decode(ours[i])).toBe(lines[i]);
  } finally {
    await llama.close();
  }
});

test(`held-out perplexity at context 256 is below ${HELDOUT_PPL_BOUND} (models/kjv-eval.json)`, () => {
  const r = cli(['perplexity', '--file', HELDOUT, '--context', '256', '--json', '--threads', '1']);
  expect(r.status, r.stderr).toBe(0);
  const result = JSON.parse(r.stdout) as { perplexity: number; context: number; scored: number };
  const shipped = JSON.parse(readFileSync(join(root, 'models/kjv-eval.json'), 'utf8')) as { context: { perplexity: number; scored: number } };
  expect(result.context).toBe(256);
  expect(result.scored).toBe(shipped.context.scored);
  expect(result.perplexity).toBeLessThan(HELDOUT_PPL_BOUND);
  expect(result.perplexity).toBeCloseTo(shipped.context.perplexity, 3);
});
