// The llama-ts command as a user runs it (the built dist/cli.js; `npm test` builds first).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';

const root = resolve(__dirname, '..');
const data = resolve(root, '../shared/data');
const cli = (args: string[], input?: string) =>
  spawnSync(process.execPath, [join(root, 'dist/cli.js'), ...args], { encoding: 'utf8', input, timeout: 120_000 });

// ../shared/data/README.md: llama2.c's run.c, greedy, on stories260K with tok512.
const STORY =
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.\nLily\n';

describe('generate', () => {
  test('stories260K.bin + tok512.bin, greedy, prints exactly what run.c prints', () => {
    const r = cli(['generate', '--model', `${data}/stories260K/stories260K.bin`, '--tokenizer', `${data}/stories260K/tok512.bin`,
      '--prompt', 'Once upon a time', '--max-tokens', '60', '--temperature', '0']);
    // the stats line names what ran: the WASM backend, relaxed SIMD on Node 20 (unless the
    // environment forces the plain build)
    const build = process.env.LLAMA_TS_SIMD === 'plain' ? 'SIMD' : 'relaxed SIMD';
    expect(r.stderr).toMatch(new RegExp(`60 tokens in .* tok/s \\(wasm, ${build}, \\d+ threads?\\)`));
    expect(r.stdout).toBe(STORY);
    expect(r.status).toBe(0);
  });

  test('--stats prints llama.cpp-style timings on stderr and leaves stdout alone', () => {
    const r = cli(['generate', '--model', `${data}/stories260K/stories260K.bin`, '--tokenizer', `${data}/stories260K/tok512.bin`,
      '--prompt', 'Once upon a time', '--max-tokens', '60', '--temperature', '0', '--stats']);
    expect(r.stdout).toBe(STORY);
    expect(r.status).toBe(0);
    // BOS + 4 tokens of the prompt in one pass; 60 tokens sampled, the last needs no pass
    expect(r.stderr).toMatch(/^load: +\d+\.\d ms$/m);
    expect(r.stderr).toMatch(/^prompt: 5 tokens in \d+\.\d ms, \d+\.\d tok\/s$/m);
    expect(r.stderr).toMatch(/^decode: 59 tokens in \d+\.\d ms, \d+\.\d tok\/s$/m);
    const rss = Number(/^memory: (\d+\.\d) MiB peak resident$/m.exec(r.stderr)?.[1]);
    expect(rss).toBeGreaterThan(10); // a Node process with the model: tens of MiB
    expect(rss).toBeLessThan(2048);
  });

  test('--simd plain runs the plain SIMD build, with the same story; a bad build is a clear error', () => {
    const args = ['generate', '--model', `${data}/stories260K/stories260K.bin`, '--tokenizer', `${data}/stories260K/tok512.bin`,
      '--prompt', 'Once upon a time', '--max-tokens', '60', '--temperature', '0'];
    const r = cli([...args, '--simd', 'plain']);
    expect(r.stderr).toMatch(/60 tokens in .* tok\/s \(wasm, SIMD, \d+ threads?\)/);
    expect(r.stdout).toBe(STORY);
    const bad = cli([...args, '--simd', 'avx512']);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/simd option must be 'relaxed', 'plain' or 'auto', got "avx512"/);
  });

  test('the readable TypeScript backend prints the same story as the WASM default', () => {
    const r = cli(['generate', '--model', `${data}/stories260K/stories260K.bin`, '--tokenizer', `${data}/stories260K/tok512.bin`,
      '--prompt', 'Once upon a time', '--max-tokens', '60', '--temperature', '0', '--backend', 'ts']);
    expect(r.stdout).toBe(STORY);
    expect(cli(['generate', '--model', `${data}/stories260K/stories260K.gguf`, '--backend', 'gpu']).stderr).toMatch(/unknown backend "gpu"/);
  });

  test('stories260K.gguf gives the same with the vocabulary inside', () => {
    const r = cli(['generate', '--model', `${data}/stories260K/stories260K.gguf`, '--prompt', 'Once upon a time', '--max-tokens', '60', '--temperature', '0']);
    expect(r.stdout).toBe(STORY);
  });

  test('a seed reproduces a sampled run', () => {
    const args = ['generate', '--model', `${data}/stories260K/stories260K.gguf`, '--max-tokens', '40', '--temperature', '1', '--top-p', '0.9', '--seed'];
    const a = cli([...args, '7']).stdout;
    expect(a.length).toBeGreaterThan(40);
    expect(cli([...args, '7']).stdout).toBe(a);
    expect(cli([...args, '8']).stdout).not.toBe(a);
  });

  test('stop strings end generation before they are shown', () => {
    const r = cli(['generate', '--model', `${data}/stories260K/stories260K.gguf`, '--prompt', 'Once upon a time', '--max-tokens', '60', '--temperature', '0', '--stop', 'Lily']);
    expect(r.stdout).toBe('Once upon a time, there was a little girl named \n');
  });

  test('a prompt longer than the context is a clear error', () => {
    const r = cli(['generate', '--model', `${data}/stories260K/stories260K.bin`, '--tokenizer', `${data}/stories260K/tok512.bin`, '--prompt', 'the cat sat. '.repeat(300)]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/prompt is \d+ tokens long, longer than the model's context of 512/);
  });

  test('a llama2.c model without --tokenizer, a bad file, a bad flag: clear errors', () => {
    expect(cli(['generate', '--model', `${data}/stories260K/stories260K.bin`]).stderr).toMatch(/holds no vocabulary.*--tokenizer/);
    const dir = mkdtempSync(join(tmpdir(), 'llama-ts-cli-'));
    writeFileSync(join(dir, 'junk.gguf'), 'GGUF\x03\x00\x00\x00not really');
    const bad = cli(['generate', '--model', join(dir, 'junk.gguf')]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('junk.gguf');
    expect(cli(['generate', '--model', `${data}/stories260K/stories260K.gguf`, '--temperature', 'hot']).stderr).toMatch(/--temperature expects a number/);
    expect(cli(['generate', '--model', `${data}/stories260K/stories260K.gguf`, '--tokenizer', `${data}/llama-tokenizer/tokenizer.model`]).stderr)
      .toMatch(/32000 tokens but the model's vocabulary has 512/);
  });
});

describe('tokenize', () => {
  const model = `${data}/llama-tokenizer/tokenizer.model`;
  test('prints ids, BOS only with --bos', () => {
    expect(cli(['tokenize', '--tokenizer', model, 'Hello world']).stdout).toBe('15043 3186\n');
    expect(cli(['tokenize', '--tokenizer', model, '--bos', 'I believe the meaning of life is']).stdout).toBe('1 306 4658 278 6593 310 2834 338\n');
  });

  test('--jsonl: one JSON string a line in, one array a line out', () => {
    const r = cli(['tokenize', '--tokenizer', `${data}/llama-tokenizer/tokenizer.bin`, '--jsonl'], '"Hello world"\n"Once upon a time"\n""\n');
    expect(r.stdout).toBe('[15043,3186]\n[9038,2501,263,931]\n[]\n');
    const bad = cli(['tokenize', '--tokenizer', model, '--jsonl'], '"ok"\n{"not": "a string"}\n');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/stdin line 2: expected a JSON string/);
  });
});

test('every command has --help, and an unknown command says so', () => {
  for (const c of ['generate', 'tokenize', 'dump', 'conform']) {
    const r = cli([c, '--help']);
    expect(r.status, c).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`usage: llama-ts ${c}`));
  }
  expect(cli(['--help']).stdout).toMatch(/commands:/);
  const r = cli(['frobnicate']);
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(/unknown command "frobnicate"/);
});

test('dump then conform: llama-ts agrees with the stories260K golden case', () => {
  const dir = mkdtempSync(join(tmpdir(), 'llama-ts-dump-'));
  const out = join(dir, 'dump.safetensors');
  const golden = JSON.parse(readFileSync(join(root, 'golden/manifest.json'), 'utf8')).cases.find((c: { name: string }) => c.name === 'stories260K');
  const d = cli(['dump', '--model', `${data}/stories260K/stories260K.bin`, '--tokens', golden.tokens.join(','), '--targets', golden.targets.join(','), '--out', out]);
  expect(d.status, d.stderr).toBe(0);
  const c = cli(['conform', 'stories260K', out]);
  expect(c.stdout).toMatch(/stories260K: PASS, 104 tensors/); // 57 forward + loss + 46 gradients
  expect(c.stdout).toMatch(/grad\.layers\.4\.feed_forward\.w2\.weight +grad/);
  expect(c.status).toBe(0);
  const j = cli(['conform', 'stories260K', out, '--json']);
  expect(JSON.parse(j.stdout).ok).toBe(true);
});
