// Every command that takes --model takes the same things (a GGUF or llama2.c file, or a
// Hugging Face folder) with the same errors; and generation's one sampling default.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { convertModel } from '../src/convert/convert.js';
import { parseSafetensors } from '../src/formats/safetensors.js';
import { DEFAULT_TOP_P, loadLlama } from '../src/index.js';

const root = resolve(__dirname, '..');
const data = resolve(root, '../shared/data');
const STORIES_GGUF = `${data}/stories260K/stories260K.gguf`;
const cli = (args: string[]) => spawnSync(process.execPath, [join(root, 'dist/cli.js'), ...args], { encoding: 'utf8', timeout: 120_000 });

let dir: string;
let folder: string; // stories260K as a Hugging Face folder
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'llama-ts-model-paths-'));
  folder = join(dir, 'stories-hf');
  convertModel(STORIES_GGUF, folder);
  mkdirSync(join(dir, 'empty'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Each --model command with its other required arguments.
const COMMANDS: [string, (model: string) => string[]][] = [
  ['generate', (m) => ['generate', '--model', m, '--max-tokens', '4']],
  ['dump', (m) => ['dump', '--model', m, '--tokens', '1,2', '--out', join(dir, 'never.safetensors')]],
  ['perplexity', (m) => ['perplexity', '--model', m, '--file', join(root, 'models/tasks/kjv-heldout.txt')]],
  ['eval', (m) => ['eval', '--model', m, '--task', join(root, 'models/tasks/kjv-grammar.jsonl')]],
];

describe('--model', () => {
  test.each(COMMANDS)('%s: a missing path and a folder that is no checkpoint give the same errors', (_, args) => {
    const missing = cli(args(join(dir, 'nothing-here.gguf')));
    expect(missing.status).toBe(1);
    expect(missing.stderr).toBe(`llama-ts: ${join(dir, 'nothing-here.gguf')}: no such model file or folder\n`);
    const empty = cli(args(join(dir, 'empty')));
    expect(empty.status).toBe(1);
    expect(empty.stderr).toBe(`llama-ts: ${join(dir, 'empty')}: not a Hugging Face model folder (no config.json)\n`);
  });

  test('dump takes a Hugging Face folder, with the tensors the GGUF gives', () => {
    const fromFolder = join(dir, 'folder.safetensors');
    const fromFile = join(dir, 'file.safetensors');
    for (const [model, out] of [[folder, fromFolder], [STORIES_GGUF, fromFile]]) {
      const r = cli(['dump', '--model', model, '--tokens', '1,403,407', '--out', out, '--backend', 'ts']);
      expect(r.stderr).toMatch(/^wrote \d+ tensors/);
      expect(r.status).toBe(0);
    }
    const a = parseSafetensors(new Uint8Array(readFileSync(fromFolder)), fromFolder).tensors;
    const b = parseSafetensors(new Uint8Array(readFileSync(fromFile)), fromFile).tensors;
    expect([...a.keys()]).toEqual([...b.keys()]);
    expect(a.size).toBeGreaterThan(20);
    for (const [name, t] of a) expect(t.bytes).toEqual(b.get(name)!.bytes);
  });
});

describe('sampling defaults', () => {
  test('the library samples with top-p 0.9 unless told, as the CLI does', async () => {
    expect(DEFAULT_TOP_P).toBe(0.9);
    const llama = await loadLlama({ model: STORIES_GGUF, backend: 'ts' });
    const text = async (topP?: number): Promise<string> => {
      let out = '';
      for await (const t of llama.generate('Once upon a time', { maxTokens: 40, temperature: 1, seed: 7, topP })) out += t;
      return out;
    };
    const byDefault = await text();
    expect(byDefault).toBe(await text(0.9));
    expect(byDefault).not.toBe(await text(1));
    const viaCli = cli(['generate', '--model', STORIES_GGUF, '--prompt', 'Once upon a time', '--max-tokens', '40', '--seed', '7', '--backend', 'ts']);
    expect(viaCli.stdout).toBe(`Once upon a time${byDefault}\n`);
    await llama.close();
  });
});
