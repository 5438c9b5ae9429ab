// The training loop's data, gradient accumulation, and exact resume (in-process, ts backend).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { randomModel } from '../reference/init.js';
import { lossAndGradients } from '../reference/train-model.js';
import { tsTrainingKernels } from '../reference/ts-kernels.js';
import { loadModel } from '../src/formats/load-file.js';
import { loadTokenizer } from '../src/tokenizer/load.js';
import {
  batchAt, parseTokenFile, splitDocuments, splitTokens, stepBatches, tokenFileBytes, tokenizeTexts, validationBatches,
} from '../src/train/data.js';
import { niceTicks } from '../src/train/plot.js';
import { createTrainingBackend } from '../src/train/backend.js';
import { loadCheckpoint } from '../src/train/checkpoint.js';
import { createTrainer, trainStep } from '../src/train/step.js';
import { modelConfig, resumeTraining, train } from '../src/train/train.js';
import { corpusFile, tempDir, tinyOptions, tok512 } from './train-loop-helpers.js';

describe('data', () => {
  test('paragraphs are documents, each encoded after a BOS', () => {
    expect(splitDocuments('a\nb\r\n\n\n c\n  \nd')).toEqual(['a\nb', ' c', 'd']);
    const tok = loadTokenizer(tok512);
    const ids = Array.from(tokenizeTexts(['Once upon a time\n\nthe cat'], tok));
    expect(ids).toEqual([1, ...tok.encode('Once upon a time'), 1, ...tok.encode('the cat')]);
    expect(ids[1]).toBe(403); // ../shared/data/README.md: "Once upon a time" → 1, 403, 407, 261, 378
  });

  test('token files round-trip at 16 and 32 bits and refuse bad bytes with the file name', () => {
    const small = Uint16Array.of(0, 5, 511);
    const back = parseTokenFile(tokenFileBytes(small, 512), 'a.bin');
    expect(back.vocabSize).toBe(512);
    expect(back.tokens).toBeInstanceOf(Uint16Array);
    expect(Array.from(back.tokens)).toEqual([0, 5, 511]);
    const big = Uint32Array.of(70000, 3);
    const back32 = parseTokenFile(tokenFileBytes(big, 80000), 'b.bin');
    expect(back32.tokens).toBeInstanceOf(Uint32Array);
    expect(Array.from(back32.tokens)).toEqual([70000, 3]);
    const bytes = tokenFileBytes(small, 512);
    expect(() => parseTokenFile(bytes.subarray(0, 10), 'c.bin')).toThrow(/c\.bin: 10 bytes is too short/);
    expect(() => parseTokenFile(bytes.subarray(0, 17), 'c.bin')).toThrow(/c\.bin: 1 bytes of tokens is not a multiple of 2/);
    const badId = tokenFileBytes(Uint16Array.of(600), 512);
    expect(() => parseTokenFile(badId, 'd.bin')).toThrow(/d\.bin: token 600 at byte 16 is outside the vocabulary of 512/);
    const badMagic = bytes.slice();
    badMagic[0] = 0;
    expect(() => parseTokenFile(badMagic, 'e.bin')).toThrow(/e\.bin: not a token file/);
  });

  test('a step\'s batches depend only on (seed, step); targets are the inputs shifted by one', () => {
    const tokens = Uint16Array.from({ length: 1000 }, (_, i) => i % 500);
    const a = stepBatches(tokens, 7, 3, 4, 8, 2);
    const b = stepBatches(tokens, 7, 3, 4, 8, 2);
    expect(a.map((x) => Array.from(x.tokens))).toEqual(b.map((x) => Array.from(x.tokens)));
    expect(Array.from(stepBatches(tokens, 7, 4, 4, 8, 2)[0].tokens)).not.toEqual(Array.from(a[0].tokens));
    expect(Array.from(stepBatches(tokens, 8, 3, 4, 8, 2)[0].tokens)).not.toEqual(Array.from(a[0].tokens));
    // Accumulation slices the same draw: 2 micro-batches of 4 = 1 batch of 8.
    const whole = stepBatches(tokens, 7, 3, 8, 8, 1)[0];
    expect([...Array.from(a[0].tokens), ...Array.from(a[1].tokens)]).toEqual(Array.from(whole.tokens));
    for (const batch of a) {
      expect(batch.B).toBe(4);
      for (let i = 0; i < batch.B * batch.T; i++) expect(batch.targets[i]).toBe((batch.tokens[i] + 1) % 500);
    }
    const fixed = batchAt(tokens, [0, 990], 9);
    expect(Array.from(fixed.targets).slice(9)).toEqual([491, 492, 493, 494, 495, 496, 497, 498, 499]);
  });

  test('the split keeps the last fraction for validation, and validation batches are fixed', () => {
    const tokens = Uint16Array.from({ length: 200 }, (_, i) => i);
    const { train: tr, val } = splitTokens(tokens, 0.1);
    expect([tr.length, val.length, val[0]]).toEqual([180, 20, 180]);
    const v1 = validationBatches(val, 5, 3, 2, 4);
    expect(v1.map((b) => Array.from(b.tokens))).toEqual(validationBatches(val, 5, 3, 2, 4).map((b) => Array.from(b.tokens)));
    for (const b of v1) for (const t of Array.from(b.tokens)) expect(t).toBeGreaterThanOrEqual(180);
    expect(() => stepBatches(Uint16Array.of(1, 2, 3), 1, 1, 1, 8, 1)).toThrow(/3 tokens, too few for one sequence of 8/);
  });

  test('plot ticks are round numbers covering the range', () => {
    expect(niceTicks(0, 10, 5)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(niceTicks(2.13, 2.61, 5)).toEqual([2.2, 2.3, 2.4, 2.5, 2.6]);
  });
});

describe('gradient accumulation', () => {
  test('2 micro-batches of 2 give the gradients and update of one batch of 4', () => {
    const config = modelConfig(tinyOptions('', []), 64);
    const tokens = Uint16Array.from({ length: 500 }, (_, i) => (i * 37 + (i >> 3)) % 64);
    const micro = stepBatches(tokens, 3, 1, 2, 16, 2);
    const big = stepBatches(tokens, 3, 1, 4, 16, 1);

    const a = createTrainer(randomModel(config, 9), tsTrainingKernels);
    const b = createTrainer(randomModel(config, 9), tsTrainingKernels);
    const lossA = lossAndGradients(a.model, a.kernels, micro, a.grads);
    const lossB = lossAndGradients(b.model, b.kernels, big[0], b.grads);
    expect(lossA).toBeCloseTo(lossB, 5);
    a.params.forEach((p, j) => {
      const q = b.params[j].grad;
      const scale = Math.max(...Array.from(q, Math.abs));
      for (let i = 0; i < q.length; i++) expect(Math.abs(p.grad[i] - q[i])).toBeLessThanOrEqual(1e-5 * scale + 1e-9);
    });

    const initial = createTrainer(randomModel(config, 9), tsTrainingKernels).params.map((p) => p.value.slice());
    const a2 = createTrainer(randomModel(config, 9), tsTrainingKernels);
    const b2 = createTrainer(randomModel(config, 9), tsTrainingKernels);
    const ra = trainStep(a2, micro, 1e-3);
    const rb = trainStep(b2, big, 1e-3);
    expect(ra.gradNorm).toBeCloseTo(rb.gradNorm, 5);
    let moved = 0;
    let differ = 0;
    let total = 0;
    a2.params.forEach((p, j) => {
      const q = b2.params[j].value;
      for (let i = 0; i < q.length; i++) {
        total++;
        if (q[i] !== initial[j][i]) moved++;
        // Adam's first step is about lr·sign(g): the same up to rounding unless g ≈ 0.
        if (Math.abs(p.value[i] - q[i]) > 1e-6) differ++;
        expect(Math.abs(p.value[i] - q[i])).toBeLessThanOrEqual(2.1e-3);
      }
    });
    expect(moved).toBeGreaterThan(total * 0.9);
    expect(differ).toBeLessThan(total * 0.01);
  });
});

describe('resume', () => {
  test('(6 steps) and (3 steps, stop, resume to 6) give bit-identical losses and weights', async () => {
    const corpus = corpusFile();
    const full = await train(tinyOptions(tempDir('full'), [corpus]), { stderr: null });
    const dir = tempDir('split');
    const first = await train(tinyOptions(dir, [corpus], { stopAfter: 3 }), { stderr: null });
    expect(first.stopped).toBe('stop-after');
    expect(first.step).toBe(3);
    const second = await resumeTraining(dir, {}, { stderr: null });
    expect(second.stopped).toBe('done');
    expect(full.log.steps.map((s) => s.loss)).toHaveLength(6);
    expect(second.log.steps.map((s) => s.loss)).toEqual(full.log.steps.map((s) => s.loss));
    expect(second.log.evals).toEqual(full.log.evals);
    const bytes = (d: string) => new Uint8Array(readFileSync(join(d, 'model.bin')));
    expect(Buffer.compare(bytes(dir), bytes(full.out))).toBe(0);
    const [ca, cb] = [loadCheckpoint(dir), loadCheckpoint(full.out)];
    expect(ca.state.step).toBe(6);
    const f32bits = (arrays: Float32Array[]) => Buffer.concat(arrays.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength)));
    expect(f32bits(ca.m).equals(f32bits(cb.m))).toBe(true);
    expect(f32bits(ca.v).equals(f32bits(cb.v))).toBe(true);
    // The run learned something, and its files load.
    expect(full.log.steps[5].loss).toBeLessThan(full.log.steps[0].loss);
    const loaded = loadModel(join(dir, 'model.gguf'));
    expect(loaded.model.config.vocabSize).toBe(512);
    expect(loaded.gguf!.metadata['tokenizer.ggml.tokens']).toHaveLength(512);
    expect(existsSync(join(dir, 'loss.svg'))).toBe(true);
    const log = JSON.parse(readFileSync(join(dir, 'log.json'), 'utf8'));
    expect(log.steps.map((s: { step: number }) => s.step)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  test('the default backend is WASM (checked against ts at start), and resumes bit-identically too', async () => {
    const chosen = await createTrainingBackend();
    await chosen.close();
    expect(chosen.note).toBeUndefined();
    expect(chosen.name).toBe('wasm');
    expect((await createTrainingBackend('ts')).name).toBe('ts');
    const corpus = corpusFile();
    const opts = (out: string, more = {}) => tinyOptions(out, [corpus], { backend: 'wasm', steps: 4, ...more });
    const full = await train(opts(tempDir('wasm-full')), { stderr: null });
    const dir = tempDir('wasm-split');
    await train(opts(dir, { stopAfter: 2 }), { stderr: null });
    const resumed = await resumeTraining(dir, {}, { stderr: null });
    expect(resumed.log.steps.map((s) => s.loss)).toEqual(full.log.steps.map((s) => s.loss));
    expect(readFileSync(join(dir, 'model.bin')).equals(readFileSync(join(full.out, 'model.bin')))).toBe(true);
    expect(full.log.steps.every((s) => s.gradNorm > 0)).toBe(true);
  });

  test('the corpus is tokenized once and reused', async () => {
    const corpus = corpusFile();
    const dir = tempDir('reuse');
    const lines: string[] = [];
    const sink = { write: (s: string) => lines.push(s), isTTY: false } as unknown as NodeJS.WriteStream;
    await train(tinyOptions(dir, [corpus], { steps: 1, warmup: 0 }), { stderr: sink });
    expect(lines.join('')).toMatch(/tokenized 1 file\(s\) into \d+ tokens/);
    lines.length = 0;
    await train(tinyOptions(dir, [corpus], { steps: 1, warmup: 0 }), { stderr: sink });
    expect(lines.join('')).toMatch(/reusing .*tokens\.bin/);
    expect(lines.join('')).toMatch(/step 1\/1 +loss \d\.\d{4} +lr 3\.00e-4 .* tok\/s/);
  });
});
