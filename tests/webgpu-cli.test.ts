// `llama-ts generate --backend webgpu` as a user runs it (the built dist/cli.js), and the
// error when there is no adapter. The full run.c story on WebGPU is in webgpu-forward.test.ts.
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';

const root = resolve(__dirname, '..');
const data = resolve(root, '../shared/data');
const cli = (args: string[], env: NodeJS.ProcessEnv = process.env) =>
  spawnSync(process.execPath, [join(root, 'dist/cli.js'), ...args], { encoding: 'utf8', timeout: 240_000, env });
const stories = ['--model', `${data}/stories260K/stories260K.bin`, '--tokenizer', `${data}/stories260K/tok512.bin`];

describe('generate --backend webgpu', () => {
  test('prints the start of run.c\'s story and names the adapter on the stats line', () => {
    const r = cli(['generate', ...stories, '--prompt', 'Once upon a time', '--max-tokens', '8', '--temperature', '0', '--backend', 'webgpu']);
    const STORY = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park.';
    expect(r.stdout.length).toBeGreaterThan('Once upon a time, there'.length);
    expect(STORY.startsWith(r.stdout.trimEnd())).toBe(true);
    expect(r.stderr).toMatch(/8 tokens in .* tok\/s \(webgpu, .+\)/);
    expect(r.status).toBe(0);
  }, 240_000);

  test('no adapter is a clear error that suggests --backend wasm, not a fallback', () => {
    const env = { ...process.env, VK_ICD_FILENAMES: '/nonexistent/icd.json' };
    const r = cli(['generate', ...stories, '--max-tokens', '2', '--backend', 'webgpu'], env);
    expect(r.stderr).toMatch(/WebGPU found no adapter.*--backend wasm/);
    expect(r.stdout).toBe('');
    expect(r.status).not.toBe(0);
  });
});
