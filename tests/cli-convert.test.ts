// convert through the command line, then generate from what it wrote: the story must survive
// every format (F32 conversions are exact).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect, test } from 'vitest';

const root = resolve(__dirname, '..');
const data = resolve(root, '../shared/data');
const cli = (args: string[]) => spawnSync(process.execPath, [join(root, 'dist/cli.js'), ...args], { encoding: 'utf8', timeout: 120_000 });
const STORY_START = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park.';

test('stories260K.gguf → Hugging Face folder → llama2.c + tokenizer → GGUF, each generating the story', () => {
  const dir = mkdtempSync(join(tmpdir(), 'llama-ts-convert-'));
  const hf = join(dir, 'hf');
  const story = (model: string, ...extra: string[]) =>
    cli(['generate', '--model', model, ...extra, '--prompt', 'Once upon a time', '--max-tokens', '60', '--temperature', '0']);

  const toHf = cli(['convert', `${data}/stories260K/stories260K.gguf`, hf, '--to', 'hf']);
  expect(toHf.status, toHf.stderr).toBe(0);
  expect(existsSync(join(hf, 'config.json'))).toBe(true);
  expect(story(hf).stdout).toContain(STORY_START);

  const bin = join(dir, 'model.bin');
  expect(cli(['convert', hf, bin]).status).toBe(0);
  expect(story(bin, '--tokenizer', `${data}/stories260K/tok512.bin`).stdout).toContain(STORY_START);

  const gguf = join(dir, 'back.gguf');
  expect(cli(['convert', bin, gguf, '--tokenizer', `${data}/stories260K/tok512.model`]).status).toBe(0);
  expect(story(gguf).stdout).toContain(STORY_START);

  const q8 = join(dir, 'q8.gguf');
  expect(cli(['convert', `${data}/stories260K/stories260K.gguf`, q8, '--type', 'q8_0']).status).toBe(0);
  expect(story(q8).stdout.length).toBeGreaterThan(100);
});
