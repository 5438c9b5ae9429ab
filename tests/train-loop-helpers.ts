// Shared by the training tests: a small deterministic corpus and tiny run options.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TRAIN_DEFAULTS, type TrainOptions } from '../src/train/train.js';

export const root = resolve(__dirname, '..');
export const sharedData = resolve(root, '../shared/data');
export const tok512 = join(sharedData, 'stories260K/tok512.model');

// About `paragraphs` × 150 bytes of simple story text, the same every time.
export function tinyCorpus(paragraphs = 40): string {
  const names = ['Lily', 'Tom', 'Sam', 'Mia', 'Ben'];
  const things = ['ball', 'cat', 'tree', 'boat', 'cake', 'dog'];
  const moods = ['happy', 'sad', 'tired', 'excited'];
  const out: string[] = [];
  for (let i = 0; i < paragraphs; i++) {
    const n = names[i % names.length];
    const t = things[(i * 7) % things.length];
    const m = moods[(i * 3) % moods.length];
    out.push(`Once upon a time, ${n} had a ${t}. ${n} was ${m}.\nOne day the ${t} was lost, and ${n} looked for it in the park ${i % 9} times.`);
  }
  return out.join('\n\n') + '\n';
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `llama-ts-${prefix}-`));
}

// A text file in a fresh folder.
export function corpusFile(paragraphs = 40): string {
  const file = join(tempDir('corpus'), 'corpus.txt');
  writeFileSync(file, tinyCorpus(paragraphs));
  return file;
}

// A tiny model and run: dim 16, 2 layers, 2/1 heads, T 16, on the ts backend, silent.
export function tinyOptions(out: string, texts: string[], more: Partial<TrainOptions> = {}): TrainOptions {
  return {
    ...TRAIN_DEFAULTS, out, texts, tokenizer: tok512,
    dim: 16, layers: 2, heads: 2, kvHeads: 1, seqLen: 16, batch: 2, steps: 6, warmup: 2, lr: 3e-3,
    evalEvery: 2, evalBatches: 2, saveEvery: 0, valFraction: 0.1, backend: 'ts', ...more,
  };
}
