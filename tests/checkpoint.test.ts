// Checkpoints: the optimizer file's format and its bad-input errors, and crash safety: a
// process killed (SIGKILL) while writing leaves the previous checkpoint whole and resumable.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { randomModel } from '../reference/init.js';
import { tsTrainingKernels } from '../reference/ts-kernels.js';
import { loadModel } from '../src/formats/load-file.js';
import { writeFileAtomic } from '../src/io/atomic-file.js';
import { loadCheckpoint, optimizerBytes, parseOptimizerFile, restoreOptimizer, type TrainState } from '../src/train/checkpoint.js';
import { stepBatches } from '../src/train/data.js';
import { createTrainer, trainStep } from '../src/train/step.js';
import { modelConfig } from '../src/train/train.js';
import { cli, start } from './train-cli-helpers.js';
import { corpusFile, tempDir, tinyOptions, tok512 } from './train-loop-helpers.js';

function trainedTrainer() {
  const config = modelConfig(tinyOptions('', [], { sharedClassifier: true }), 40);
  const trainer = createTrainer(randomModel(config, 4), tsTrainingKernels);
  const tokens = Uint16Array.from({ length: 300 }, (_, i) => (i * 13) % 40);
  for (let step = 1; step <= 2; step++) trainStep(trainer, stepBatches(tokens, 1, step, 2, 16, 1), 1e-3);
  const state: TrainState = { format: 'llama-ts-train', version: 1, step: 2, config, options: { seed: 1 }, tokensSeen: 64, elapsedSeconds: 1.5 };
  return { trainer, state, tokens };
}

describe('optimizer.bin', () => {
  test('round-trips weights and AdamW moments bit for bit; the restored trainer steps identically', () => {
    const { trainer, state, tokens } = trainedTrainer();
    const bytes = optimizerBytes(trainer, state);
    const ckpt = parseOptimizerFile(bytes, 'opt.bin');
    expect(ckpt.state).toEqual(state);
    const restored = createTrainer(ckpt.model, tsTrainingKernels);
    restoreOptimizer(restored, ckpt);
    expect(restored.optimizer.step).toBe(2);
    restored.params.forEach((p, j) => {
      expect(Buffer.from(p.value.buffer).equals(Buffer.from(trainer.params[j].value.buffer))).toBe(true);
      expect(Array.from(restored.optimizer.m[j])).toEqual(Array.from(trainer.optimizer.m[j]));
      expect(Array.from(restored.optimizer.v[j])).toEqual(Array.from(trainer.optimizer.v[j]));
    });
    const a = trainStep(trainer, stepBatches(tokens, 1, 3, 2, 16, 1), 1e-3);
    const b = trainStep(restored, stepBatches(tokens, 1, 3, 2, 16, 1), 1e-3);
    expect(b.loss).toBe(a.loss);
    expect(Array.from(restored.params[0].value)).toEqual(Array.from(trainer.params[0].value));
  });

  test('bad files give errors that name the file and the field or byte', () => {
    const { trainer, state } = trainedTrainer();
    const bytes = optimizerBytes(trainer, state);
    const f = 'ck/optimizer.bin';
    expect(() => parseOptimizerFile(bytes.subarray(0, 8), f)).toThrow(/ck\/optimizer\.bin: 8 bytes is too short/);
    expect(() => parseOptimizerFile(bytes.subarray(0, bytes.length - 4), f)).toThrow(/config implies \d+ bytes .* the file has \d+/);
    const badMagic = bytes.slice();
    badMagic[0] ^= 1;
    expect(() => parseOptimizerFile(badMagic, f)).toThrow(/not a llama-ts checkpoint \(magic .* at byte 0/);
    const longJson = bytes.slice();
    new DataView(longJson.buffer).setUint32(8, 0xfffffff0, true);
    expect(() => parseOptimizerFile(longJson, f)).toThrow(/JSON length 4294967280 at byte 8 runs past the end/);
    const withState = (s: unknown) => {
      const json = new TextEncoder().encode(JSON.stringify(s));
      const out = new Uint8Array(16 + json.length);
      const v = new DataView(out.buffer);
      v.setUint32(0, 0x4b43544c, true);
      v.setUint32(4, 1, true);
      v.setUint32(8, json.length, true);
      out.set(json, 16);
      return out;
    };
    expect(() => parseOptimizerFile(withState({ format: 'x' }), f)).toThrow(/field "format"/);
    expect(() => parseOptimizerFile(withState({ ...state, step: -1 }), f)).toThrow(/field "step" must be an integer/);
    expect(() => parseOptimizerFile(withState({ ...state, config: { ...state.config, dim: 1e9 } }), f)).toThrow(/config implies \d+ bytes/);
    expect(() => parseOptimizerFile(withState({ ...state, config: { ...state.config, nHeads: 3 } }), f)).toThrow(/field "config": dim 16 is not divisible/);
    const garbled = withState(state);
    garbled[20] = 0xff;
    expect(() => parseOptimizerFile(garbled, f)).toThrow(/state JSON at byte 16 does not parse/);
  });

  test('an atomic write replaces the file and leaves no temporary behind', () => {
    const dir = tempDir('atomic');
    writeFileAtomic(join(dir, 'x.bin'), Uint8Array.of(1, 2, 3));
    writeFileAtomic(join(dir, 'x.bin'), Uint8Array.of(4, 5));
    expect(Array.from(readFileSync(join(dir, 'x.bin')))).toEqual([4, 5]);
    expect(readdirSync(dir)).toEqual(['x.bin']);
  });
});

describe('crash safety', () => {
  const tiny = ['--dim', '16', '--layers', '2', '--heads', '2', '--kv-heads', '1', '--seq-len', '16', '--batch', '2', '--backend', 'ts'];

  test('SIGKILL in the middle of writing each checkpoint file leaves step 2 loadable, and resuming matches a clean run', async () => {
    const corpus = corpusFile();
    const clean = tempDir('clean');
    expect(cli(['train', '--out', clean, '--tokenizer', tok512, '--steps', '4', '--warmup', '1', '--eval-every', '0', ...tiny, corpus]).status).toBe(0);

    const dir = tempDir('killed');
    const first = cli(['train', '--out', dir, '--tokenizer', tok512, '--steps', '4', '--warmup', '1', '--eval-every', '0', '--stop-after', '2', ...tiny, corpus]);
    expect(first.status).toBe(0);
    for (const file of ['model.gguf', 'model.bin', 'optimizer.bin']) {
      const run = start(['train', '--resume', dir], { LLAMA_TS_TEST_PAUSE_WRITE: file });
      await run.waitFor(new RegExp(`test hook: paused while writing .*${file.replace('.', '\\.')}\\.tmp-\\d+`));
      run.child.kill('SIGKILL');
      expect((await run.exited).signal).toBe('SIGKILL');
      expect(readdirSync(dir).some((f) => f.startsWith(`${file}.tmp-`))).toBe(true); // the torn write
      expect(loadCheckpoint(dir).state.step).toBe(2); // the last whole checkpoint
      expect(loadModel(join(dir, 'model.gguf')).model.config.dim).toBe(16);
      expect(loadModel(join(dir, 'model.bin')).model.config.dim).toBe(16);
    }
    const resumed = cli(['train', '--resume', dir]);
    expect(resumed.stderr).toMatch(/removed optimizer\.bin\.tmp-\d+, left by a run that was killed while saving/);
    expect(resumed.status).toBe(0);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    expect(loadCheckpoint(dir).state.step).toBe(4);
    expect(readFileSync(join(dir, 'model.bin')).equals(readFileSync(join(clean, 'model.bin')))).toBe(true);
    const losses = (d: string) => JSON.parse(readFileSync(join(d, 'log.json'), 'utf8')).steps.map((s: { loss: number }) => s.loss);
    expect(losses(dir)).toEqual(losses(clean));
  });

  test('killed at random moments while saving every step, the checkpoint always loads and resumes', async () => {
    const dir = tempDir('random-kill');
    const corpus = corpusFile();
    let seed = 12345;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (let round = 0; round < 3; round++) {
      const args = round === 0
        ? ['train', '--out', dir, '--tokenizer', tok512, '--steps', '100000', '--save-every', '1', '--eval-every', '0', ...tiny, corpus]
        : ['train', '--resume', dir];
      const run = start(args);
      await run.waitFor(/saved: checkpoint at step/);
      await new Promise((r) => setTimeout(r, 20 + random() * 200));
      run.child.kill('SIGKILL');
      await run.exited;
      const ckpt = loadCheckpoint(dir);
      expect(ckpt.state.step).toBeGreaterThanOrEqual(1);
      expect(loadModel(join(dir, 'model.gguf')).model.config.vocabSize).toBe(512);
    }
    const before = loadCheckpoint(dir).state.step;
    const r = cli(['train', '--resume', dir, '--stop-after', String(before + 1)]);
    expect(r.status).toBe(0);
    expect(loadCheckpoint(dir).state.step).toBe(before + 1);
  });
});
