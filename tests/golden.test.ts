// golden/ itself: the committed files are what the committed generator makes, and the
// tokenizer cases (ids from the SentencePiece library) are met exactly.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { readManifest } from '../src/conform/golden.js';
import { loadTokenizer } from '../src/tokenizer/load.js';

const manifest = readManifest();
const rawManifest = JSON.parse(readFileSync(join(manifest.root, 'manifest.json'), 'utf8'));
const PYTHON = '/usr/bin/python3';
const torchAvailable = spawnSync(PYTHON, ['-c', 'import torch, sentencepiece'], { encoding: 'utf8' }).status === 0;

describe('golden tokenizer cases', () => {
  for (const spec of rawManifest.tokenizers as Array<{ name: string; model: string; file: string }>) {
    test(`${spec.name}: every case exact`, () => {
      const tokenizer = loadTokenizer(resolve(manifest.root, '..', spec.model));
      const cases = JSON.parse(readFileSync(join(manifest.root, spec.file), 'utf8')).cases as Array<{ text: string; ids: number[] }>;
      expect(cases.length).toBeGreaterThan(250);
      const wrong = cases.filter((c) => JSON.stringify(tokenizer.encode(c.text)) !== JSON.stringify(c.ids));
      expect(wrong.map((c) => ({ text: c.text, expected: c.ids, got: tokenizer.encode(c.text) }))).toEqual([]);
    });
  }
});

test('every generated golden file has the sha256 the manifest records', () => {
  const files = rawManifest.files as Record<string, string>;
  expect(Object.keys(files).length).toBeGreaterThan(8);
  for (const [path, sha] of Object.entries(files)) {
    expect(createHash('sha256').update(readFileSync(join(manifest.root, path))).digest('hex'), path).toBe(sha);
  }
});

// Regenerating needs Debian's python3-torch (installed by .ci/run); without it the hashes
// above are what ties the files to the manifest.
test.runIf(torchAvailable)('regenerating golden/ from golden/torch is byte-identical', () => {
  const run = spawnSync(PYTHON, [join(manifest.root, 'torch', 'check.py')], { encoding: 'utf8', timeout: 300_000 });
  expect(run.stdout + run.stderr).not.toMatch(/differ|missing|stale/i);
  expect(run.status).toBe(0);
}, 300_000);
