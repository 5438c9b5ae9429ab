// One evaluator: `llama-ts train`'s validation loss (meanLoss) is src/eval's sequenceLoss,
// through the prompt path with a KV cache, and it agrees with the training forward's own
// cross-entropy (a second, independent computation of the same number), on the readable
// kernels and on the WASM training kernels.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { LlamaConfig } from '../reference/config.js';
import { randomModel } from '../reference/init.js';
import { Rng } from '../reference/random.js';
import { trainForward, type Batch } from '../reference/train-model.js';
import { tsKernels, tsTrainingKernels } from '../reference/ts-kernels.js';
import { createWasmTrainingKernels, type WasmTrainingKernels } from '../src/backends/wasm/training.js';
import { perplexityOfPlan } from '../src/eval/perplexity.js';
import { planChunks } from '../src/eval/chunks.js';
import { createEvaluator } from '../src/eval/evaluator.js';
import { sequenceLoss } from '../src/eval/sequence-loss.js';
import { createTrainer, meanLoss } from '../src/train/step.js';
import { wasmPath } from './wasm-helpers.js';

const config: LlamaConfig = {
  dim: 32, hiddenDim: 64, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 50,
  maxSeqLen: 32, normEps: 1e-5, ropeTheta: 10000, sharedClassifier: false,
};

// B sequences of T random tokens, each target the next token; `ignored` targets set to -1.
function randomBatch(seed: number, B: number, T: number, ignored = 0): Batch & { tokens: number[]; targets: number[] } {
  const rng = new Rng(seed);
  const stream = Array.from({ length: B * (T + 1) }, () => rng.nextU32() % config.vocabSize);
  const tokens: number[] = [];
  const targets: number[] = [];
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      tokens.push(stream[b * (T + 1) + t]);
      targets.push(t < ignored ? -1 : stream[b * (T + 1) + t + 1]);
    }
  }
  return { tokens, targets, B, T };
}

let wasm: WasmTrainingKernels;
beforeAll(async () => {
  wasm = await createWasmTrainingKernels({ maxMemoryBytes: 1 << 28, wasmPath, threads: 1 });
});
afterAll(async () => {
  await wasm.close();
});

describe('the validation loss is the evaluator\'s', () => {
  test.each([['ts'], ['wasm']])('%s kernels: meanLoss equals the training forward\'s cross-entropy', (backend) => {
    const fresh = randomModel(config, 11, { std: 0.3 });
    const kernels = backend === 'ts' ? tsTrainingKernels : wasm;
    const trainer = createTrainer(backend === 'ts' ? fresh : wasm.placeModel(fresh), kernels);
    const batches = [randomBatch(1, 2, 16), randomBatch(2, 2, 16, 5)];
    const viaEvaluator = meanLoss(trainer, batches);
    const viaTraining = batches.reduce((s, b) => s + trainForward(trainer.model, kernels, b, { recompute: true }).loss, 0) / batches.length;
    expect(viaEvaluator).toBeGreaterThan(3); // about log(50) for a random model
    expect(Math.abs(viaEvaluator - viaTraining) / viaTraining).toBeLessThan(1e-5);
  });

  test('sequenceLoss is the perplexity machinery: one chunk scored whole gives exp(loss)', () => {
    const model = randomModel(config, 12, { std: 0.3 });
    const batch = randomBatch(3, 1, 16);
    const loss = sequenceLoss(model, tsKernels, batch);
    // perplexity scores the second half of a chunk; score the same half by masking the first
    const half = { ...batch, targets: batch.targets.map((t, i) => (i < 8 ? -1 : t)) };
    const tokens = [...batch.tokens, batch.targets[15]];
    const ev = createEvaluator({ model, tokenizer: { encode: () => tokens, vocab: { bosId: tokens[0] } }, kernels: tsKernels, contextLength: 17 });
    const ppl = perplexityOfPlan(ev, planChunks(tokens, 17, 1, 'test'));
    expect(ppl.scored).toBe(8);
    expect(Math.log(ppl.perplexity)).toBeCloseTo(sequenceLoss(model, tsKernels, half), 10);
    expect(loss).not.toBeCloseTo(sequenceLoss(model, tsKernels, half), 3); // the mask matters
  });

  test('a batch with nothing to score is an error', () => {
    const model = randomModel(config, 13);
    const batch = randomBatch(4, 1, 4, 4);
    expect(() => sequenceLoss(model, tsKernels, batch)).toThrow('sequenceLoss: no target to score');
  });
});
