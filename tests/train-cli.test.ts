// `llama-ts train` end to end: a tokenizer trained by spm_train on a few KB of text, three
// steps, a GGUF that `llama-ts generate` runs alone; Ctrl-C; clear errors.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadModel } from '../src/formats/load-file.js';
import { loadTokenizer } from '../src/tokenizer/load.js';
import { loadCheckpoint } from '../src/train/checkpoint.js';
import { cli, start } from './train-cli-helpers.js';
import { corpusFile, tempDir, tok512 } from './train-loop-helpers.js';

const tiny = ['--dim', '32', '--layers', '2', '--heads', '4', '--kv-heads', '2', '--seq-len', '32', '--batch', '2'];

describe('llama-ts train', () => {
  test('trains a tokenizer and 3 steps; generate runs the GGUF with nothing else', () => {
    const corpus = corpusFile(60);
    const out = join(tempDir('cli'), 'run');
    const r = cli(['train', '--out', out, '--vocab', '320', '--steps', '3', '--eval-every', '1', '--eval-batches', '2', ...tiny, corpus]);
    expect(r.stderr).toMatch(/training a 320-piece SentencePiece BPE tokenizer/);
    expect(r.stderr).toMatch(/step 3\/3 +loss \d+\.\d{4}/);
    expect(r.stderr).toMatch(/done: checkpoint at step 3/);
    expect(r.status).toBe(0);

    const tokenizer = loadTokenizer(join(out, 'tokenizer.model'));
    const { model, gguf } = loadModel(join(out, 'model.gguf'));
    expect(model.config).toMatchObject({ dim: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, maxSeqLen: 32, vocabSize: tokenizer.vocabSize });
    expect(gguf!.metadata['tokenizer.ggml.tokens']).toEqual(tokenizer.vocab.pieces);
    expect(loadModel(join(out, 'model.bin')).model.config.vocabSize).toBe(tokenizer.vocabSize);

    const log = JSON.parse(readFileSync(join(out, 'log.json'), 'utf8'));
    expect(log.steps.map((s: { step: number }) => s.step)).toEqual([1, 2, 3]);
    for (const s of log.steps) for (const k of ['loss', 'lr', 'gradNorm', 'tokensPerSecond']) expect(Number.isFinite(s[k])).toBe(true);
    expect(log.evals.map((e: { step: number }) => e.step)).toEqual([1, 2, 3]);
    expect(log.steps[0].loss).toBeGreaterThan(Math.log(tokenizer.vocabSize) - 0.5); // untrained: about ln V
    const svg = readFileSync(join(out, 'loss.svg'), 'utf8');
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(svg.match(/<path d="M[\d.]+ [\d.]+( L[\d.]+ [\d.]+){2}"/g)).toHaveLength(2); // train and validation, 3 points each
    expect(svg).toContain('>validation</text>');

    const g = cli(['generate', '--model', join(out, 'model.gguf'), '--prompt', 'Once upon', '--max-tokens', '8', '--temperature', '0']);
    expect(g.stderr).toMatch(/8 tokens in/);
    expect(g.stdout.startsWith('Once upon')).toBe(true);
    expect(g.status).toBe(0);
  });

  test('Ctrl-C saves a checkpoint after the current step, exits cleanly, and --resume continues', async () => {
    const out = tempDir('sigint');
    const run = start(['train', '--out', out, '--tokenizer', tok512, '--steps', '100000', '--save-every', '0', '--eval-every', '0', '--backend', 'ts', ...tiny, corpusFile()]);
    await run.waitFor(/step +2\/100000/);
    run.child.kill('SIGINT');
    const { code } = await run.exited;
    expect(run.stderr()).toMatch(/interrupt: saving a checkpoint after this step/);
    const m = /stopped at step (\d+); continue with: llama-ts train --resume /.exec(run.stderr());
    expect(m).not.toBeNull();
    expect(code).toBe(0);
    const step = Number(m![1]);
    expect(step).toBeGreaterThanOrEqual(2);
    expect(loadCheckpoint(out).state.step).toBe(step);

    const r = cli(['train', '--resume', out, '--stop-after', String(step + 2)]);
    expect(r.stderr).toMatch(new RegExp(`resuming at step ${step}`));
    expect(r.stderr).toMatch(new RegExp(`stopped after step ${step + 2}: checkpoint`));
    expect(r.status).toBe(0);
    expect(loadCheckpoint(out).state.step).toBe(step + 2);
    const log = JSON.parse(readFileSync(join(out, 'log.json'), 'utf8'));
    expect(log.steps.map((s: { step: number }) => s.step)).toEqual(Array.from({ length: step + 2 }, (_, i) => i + 1));
  });

  test('bad flags and inputs give clear errors', () => {
    const corpus = corpusFile(5);
    const out = tempDir('bad');
    expect(cli(['train', corpus]).stderr).toMatch(/train needs --out DIR/);
    expect(cli(['train', '--out', out, '--backend', 'gpu', corpus]).stderr).toMatch(/unknown backend "gpu"/);
    expect(cli(['train', '--out', out, '--tokenizer', tok512, '--heads', '3', corpus]).stderr).toMatch(/dim 128 is not divisible by nHeads 3/);
    expect(cli(['train', '--out', out, '--tokenizer', tok512, '--seq-len', '4096', '--steps', '1', corpus]).stderr).toMatch(/too few for one sequence of 4096/);
    expect(cli(['train', '--out', out, '--tokenizer', join(out, 'missing.model'), corpus]).stderr).toMatch(/missing\.model/);
    expect(cli(['train', '--resume', out]).stderr).toMatch(/no checkpoint here \(optimizer\.bin is missing\)/);
    const r = cli(['train', '--resume', out, '--dim', '64']);
    expect(r.stderr).toMatch(/--dim cannot change/);
    expect(r.status).toBe(1);
    expect(existsSync(join(out, 'optimizer.bin'))).toBe(false);
  });
});
