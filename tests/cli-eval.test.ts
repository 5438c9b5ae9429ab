// llama-ts perplexity and llama-ts eval as a user runs them (the built dist/cli.js), on the
// embedded default model and its shipped tasks and held-out text (models/tasks/).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';

const root = resolve(__dirname, '..');
const tasks = join(root, 'models/tasks');
const HELDOUT = join(tasks, 'kjv-heldout.txt');
const cli = (args: string[]) => spawnSync(process.execPath, [join(root, 'dist/cli.js'), ...args], { encoding: 'utf8', timeout: 300_000 });
const dir = mkdtempSync(join(tmpdir(), 'cli-eval-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('llama-ts perplexity', () => {
  test('the default model on its held-out text: running values per chunk and the final estimate', () => {
    const r = cli(['perplexity', '--file', HELDOUT, '--chunks', '4', '--context', '128', '--threads', '1']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^perplexity of kjv\.gguf: \d+ tokens, 4 chunks of 128 \(the last 63 of each scored\), 252 scored\n\[1\][\d.]+,\[2\][\d.]+,\[3\][\d.]+,\[4\]([\d.]+)\nFinal estimate: PPL = ([\d.]+) \+\/- [\d.]+\n/);
    const [, last, final] = /\[4\]([\d.]+)\nFinal estimate: PPL = ([\d.]+)/.exec(r.stdout)!;
    expect(last).toBe(final);
    // The model's held-out perplexity at context 128 is 17.0 over the whole text (models/kjv-eval.json).
    expect(Number(final)).toBeGreaterThan(8);
    expect(Number(final)).toBeLessThan(40);
  });

  test('--save-logits on F32, --kl-divergence on Q4_0: KL > 0, the ratio of the perplexities, --json', () => {
    const q4 = join(dir, 'kjv-q4_0.gguf');
    expect(cli(['quantize', join(root, 'models/kjv.gguf'), q4, '--type', 'q4_0']).status).toBe(0);
    const logits = join(dir, 'kjv.logits');
    const base = cli(['perplexity', '--file', HELDOUT, '--chunks', '4', '--context', '128', '--save-logits', logits, '--json', '--threads', '1']);
    expect(base.status).toBe(0);
    const baseResult = JSON.parse(base.stdout);
    const r = cli(['perplexity', '--model', q4, '--file', HELDOUT, '--kl-divergence', logits, '--json', '--threads', '1']);
    expect(r.stderr).toBe('');
    const kl = JSON.parse(r.stdout);
    expect(kl).toMatchObject({ model: 'kjv-q4_0.gguf', baseModel: 'kjv.gguf', context: 128, chunks: 4, scored: 252 });
    expect(kl.pplBase.value).toBeCloseTo(baseResult.perplexity, 5);
    expect(kl.kl.value).toBeGreaterThan(0.001);
    expect(kl.klPercentiles.max).toBeGreaterThan(kl.klPercentiles.median);
    expect(kl.sameTop.value).toBeGreaterThan(0.7);
    expect(kl.pplRatio.value).toBeCloseTo(kl.pplQ.value / kl.pplBase.value, 6);
    const text = cli(['perplexity', '--model', q4, '--file', HELDOUT, '--kl-divergence', logits, '--threads', '1']);
    expect(text.stdout).toMatch(/Mean    KLD: +[\d.]+ ± +[\d.]+\n/);
    expect(text.stdout).toMatch(/Same top p: [\d.]+% ± [\d.]+%/);

    const other = join(dir, 'other.txt');
    writeFileSync(other, 'And I saw a new heaven and a new earth. '.repeat(200));
    const wrong = cli(['perplexity', '--model', q4, '--file', other, '--kl-divergence', logits]);
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toContain(`${logits}: its token 1 is`);
    const ctx = cli(['perplexity', '--model', q4, '--file', HELDOUT, '--kl-divergence', logits, '--context', '64']);
    expect(ctx.stderr).toContain(`--context 64 differs from the base run's context of 128 in ${logits}`);
  });

  test('a text shorter than one chunk is a clear error', () => {
    const short = join(dir, 'short.txt');
    writeFileSync(short, 'In the beginning');
    const r = cli(['perplexity', '--file', short]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^llama-ts: ${short}: the text is \\d+ tokens long, shorter than one chunk of 256 tokens\\n$`));
  });
});

describe('llama-ts eval', () => {
  test('the default model beats chance on the shipped KJV tasks (first 100 items)', () => {
    const r = cli(['eval', '--task', join(tasks, 'kjv-cloze.jsonl'), '--task', join(tasks, 'kjv-grammar.jsonl'), '--limit', '100', '--json', '--threads', '1']);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.tasks.map((t: { task: string }) => t.task)).toEqual(['kjv-cloze', 'kjv-grammar']);
    for (const t of out.tasks) {
      expect(t.items).toBe(100);
      expect(t.acc_norm.value - t.chance).toBeGreaterThan(4 * t.acc_norm.stderr);
      expect(t.tokensRun).toBeLessThan(t.tokensFromScratch);
    }
  });

  test('the text table; paper scoring adds acc_paper', () => {
    const r = cli(['eval', '--task', join(tasks, 'kjv-grammar.jsonl'), '--limit', '20', '--scoring', 'paper', '--threads', '1']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^eval of kjv\.gguf\ntask +shape +items +shots +acc +acc_norm +acc_bytes +acc_paper +chance\nkjv-grammar +generic +20 +0 +[\d.]+ ± [\d.]+/);
  });

  test('bad input: a malformed line names file, line and field; a bad --scoring; no --task', () => {
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, '{"context": "a", "choices": ["x", "y"], "answer": 0}\n{"context": "b", "choices": "x", "answer": 0}\n');
    const r = cli(['eval', '--task', bad]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`llama-ts: ${bad}:2: field "choices" must be an array of strings\n`);
    expect(cli(['eval', '--task', bad, '--scoring', 'gpt']).stderr).toContain('--scoring must be harness or paper, got "gpt"');
    expect(cli(['eval']).stderr).toContain('eval needs at least one --task FILE.jsonl');
    const empty = join(dir, 'empty.jsonl');
    writeFileSync(empty, '');
    expect(cli(['eval', '--task', empty]).stderr).toBe(`llama-ts: ${empty}: no items (an empty task file)\n`);
  });
});
