// scripts/train-default.sh on a tiny shape and corpus: the shipped files (quantized GGUF,
// tokenizer, held-out perplexity, log.json and pictures), and an interrupted run (a stop with a
// checkpoint, then a SIGKILL between checkpoints) that, run again, ends with the same bits as
// an uninterrupted one at the same thread count.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadModel } from '../src/formats/load-file.js';
import { corpusFile, root, tempDir } from './train-loop-helpers.js';

const script = join(root, 'scripts/train-default.sh');
const corpus = corpusFile(120);

// PRESET v2 shrunk: every size overridden, the rest (Q8_0, held-out perplexity) as shipped.
function env(dir: string, more: Record<string, string> = {}): Record<string, string> {
  return {
    ...process.env as Record<string, string>, PRESET: 'v2', CORPUS: corpus, HELDOUT: corpus, OUT: join(dir, 'out'), RUN_DIR: join(dir, 'run'),
    VOCAB: '320', DIM: '32', LAYERS: '2', HEADS: '4', KV_HEADS: '2', SEQ_LEN: '32', BATCH: '2', STEPS: '8', WARMUP: '2',
    EVAL_EVERY: '2', EVAL_BATCHES: '2', SAVE_EVERY: '2', THREADS: '1', ...more,
  };
}

const run = (e: Record<string, string>) => spawnSync('bash', [script], { env: e, encoding: 'utf8', timeout: 300_000 });

// What must not depend on the interruption: everything but timings.
function outcome(dir: string) {
  const out = join(dir, 'out');
  const log = JSON.parse(readFileSync(join(out, 'log.json'), 'utf8'));
  const evalJson = JSON.parse(readFileSync(join(out, 'kjv-eval.json'), 'utf8'));
  return {
    gguf: readFileSync(join(out, 'kjv.gguf')),
    steps: log.steps.map((s: Record<string, unknown>) => [s.step, s.loss, s.lr, s.gradNorm, s.groupGradNorms]),
    evals: log.evals,
    perplexity: [evalJson.context.perplexity, evalJson.context.uncertainty, evalJson.context.scored],
    pictures: ['loss.svg', 'perplexity.svg', 'grad-norm.svg', 'lr.svg'].map((f) => readFileSync(join(out, f), 'utf8')),
  };
}

describe('scripts/train-default.sh', () => {
  test('ships a Q8_0 GGUF with its held-out perplexity and pictures; an interrupted run resumes to the same bits', async () => {
    const a = tempDir('default-a');
    const r = run(env(a));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/training a 320-piece SentencePiece BPE tokenizer/);
    expect(r.stderr).toMatch(/held-out perplexity at context 32: \d+\.\d{3} ± \d+\.\d{3}/);
    expect(r.stdout.startsWith('And God said')).toBe(true);
    const { model, gguf } = loadModel(join(a, 'out/kjv.gguf'));
    expect(model.config).toMatchObject({ dim: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, maxSeqLen: 32, vocabSize: 320 });
    expect(gguf!.metadata['general.file_type']).toBe(7); // MOSTLY_Q8_0
    expect(model.weights.layers[0].wq.dtype).toBe('q8_0');
    const e = JSON.parse(readFileSync(join(a, 'out/kjv-eval.json'), 'utf8'));
    expect(e).toMatchObject({ model: 'kjv.gguf', type: 'q8_0', context128: null });
    expect(e.context.context).toBe(32);
    expect(e.context.perplexity).toBeGreaterThan(1);
    expect(e.context.perplexity).toBeLessThan(320); // trained: below a uniform guess over the vocabulary
    const base = outcome(a);
    expect(base.steps.map((s: unknown[]) => s[0])).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(base.evals.map((x: { step: number }) => x.step)).toEqual([2, 4, 6, 8]);

    // Interrupted twice: a stop with a checkpoint after step 3, then a kill (the whole process
    // group, no chance to save) once step 6's checkpoint is written, mid-way to step 8.
    const b = tempDir('default-b');
    const stopped = run(env(b, { STOP_AFTER: '3' }));
    expect(stopped.stderr).toMatch(/stopped at step 3 of 8; run this script again/);
    expect(stopped.status).toBe(3);
    expect(existsSync(join(b, 'out/kjv.gguf'))).toBe(false);
    const child = spawn('bash', [script], { env: env(b), detached: true });
    let err = '';
    await new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        if (/saved: checkpoint at step 6/.test(err)) {
          process.kill(-child.pid!, 'SIGKILL');
          resolve();
        }
      });
      child.on('exit', () => reject(new Error(`exited before step 6's checkpoint:\n${err}`)));
    });
    expect(err).toMatch(/resuming at step 3/);
    expect(existsSync(join(b, 'out/kjv.gguf'))).toBe(false);
    const resumed = run(env(b));
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/resuming at step 6/);
    const again = outcome(b);
    expect(again.gguf.equals(base.gguf)).toBe(true);
    expect(again.steps).toEqual(base.steps);
    expect(again.evals).toEqual(base.evals);
    expect(again.perplexity).toEqual(base.perplexity);
    expect(again.pictures[0]).toBe(base.pictures[0]);
    expect(again.pictures[2]).toBe(base.pictures[2]);

    // The same run folder with another shape is refused, not resumed into it.
    const other = run(env(b, { DIM: '64' }));
    expect(other.status).toBe(1);
    expect(other.stderr).toMatch(/holds a run of another recipe/);
  }, 600_000);
});
