// The evaluator: statistics, llama.cpp's chunks, the prompt path against token-by-token
// decoding, the cached context against scoring from scratch, cutting long contexts, paper
// scoring, few-shot drawing, and the KL divergence file round trip with its errors.
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createKVCache, forward } from '../reference/model.js';
import { tsKernels } from '../reference/ts-kernels.js';
import { loadModel } from '../src/formats/load-file.js';
import { chunkInput, chunkTarget, planChunks } from '../src/eval/chunks.js';
import { createEvaluator } from '../src/eval/evaluator.js';
import { klDivergence, planFromBase } from '../src/eval/kl-divergence.js';
import { scoreItem, tokenizeRequest } from '../src/eval/likelihood.js';
import { loadEvaluator, type LoadedEvaluator } from '../src/llama.js';
import { logSumExp, tokenLogProb } from '../src/eval/log-probs.js';
import { LogitsReader, LogitsWriter, logitsHeaderFor } from '../src/eval/logits-file.js';
import { drawShots, evaluateTask, solved } from '../src/eval/multiple-choice.js';
import { perplexity, perplexityOfPlan, tokenizeForPerplexity } from '../src/eval/perplexity.js';
import { formatDuration, formatProgress } from '../src/eval/report.js';
import { median, percentile, RunningMean } from '../src/eval/stats.js';
import { parseTask } from '../src/eval/tasks.js';
import { Rng } from '../reference/random.js';
import { quantizeFile } from '../src/convert/quantize-file.js';
import { vocabularyFromGGUF } from '../src/tokenizer/gguf-vocabulary.js';
import { Tokenizer } from '../src/tokenizer/tokenizer.js';
import { STORY } from './eval-data.js';

const STORIES_GGUF = fileURLToPath(new URL('../../shared/data/stories260K/stories260K.gguf', import.meta.url));

let dir: string;
let ev: LoadedEvaluator; // stories260K, WASM, 64 positions

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'eval-'));
  ev = await loadEvaluator({ model: STORIES_GGUF, contextLength: 64, threads: 1 });
});

afterAll(async () => {
  await ev?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('statistics', () => {
  test('RunningMean: the mean, and stderr = sample standard deviation / √n', () => {
    fc.assert(fc.property(fc.array(fc.double({ min: -100, max: 100, noNaN: true }), { minLength: 2, maxLength: 50 }), (xs) => {
      const m = new RunningMean();
      xs.forEach((x) => m.add(x));
      const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
      const sd = Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1));
      expect(m.mean).toBeCloseTo(mean, 9);
      expect(m.stderr).toBeCloseTo(sd / Math.sqrt(xs.length), 6);
    }));
  });

  test('percentiles interpolate between ranks; median of even and odd counts', () => {
    const v = [1, 2, 3, 4, 10];
    expect(percentile(v, 0.5)).toBe(3);
    expect(percentile(v, 0.9)).toBeCloseTo(7.6, 12);
    expect(percentile(v, 0)).toBe(1);
    expect(percentile(v, 1)).toBe(10);
    expect(median([1, 2, 3, 10])).toBe(2.5);
    expect(median(v)).toBe(3);
  });

  test('log-softmax pieces', () => {
    expect(logSumExp([0, 0])).toBeCloseTo(Math.log(2), 12);
    expect(tokenLogProb([1000, 1000, 1000, 1000], 2)).toBeCloseTo(-Math.log(4), 12);
  });
});

describe('llama.cpp chunks', () => {
  test('floor(tokens / N) chunks of N, N − 1 − ⌊N/2⌋ scored each, BOS first, targets from the text', () => {
    fc.assert(fc.property(fc.integer({ min: 4, max: 40 }), fc.integer({ min: 0, max: 200 }), fc.option(fc.integer({ min: 1, max: 9 }), { nil: undefined }), (N, extra, max) => {
      const tokens = Array.from({ length: N + extra }, (_, i) => 100 + i);
      const plan = planChunks(tokens, N, max, 't');
      const full = Math.floor(tokens.length / N);
      expect(plan.chunks).toBe(max === undefined ? full : Math.min(full, max));
      expect(plan.scoredPerChunk).toBe(N - 1 - Math.floor(N / 2));
      const last = plan.chunks - 1;
      expect(chunkInput(plan, last, 1)).toEqual([1, ...tokens.slice(last * N + 1, (last + 1) * N)]);
      expect(chunkTarget(plan, last, N - 2)).toBe(tokens[(last + 1) * N - 1]);
    }));
  });

  test('a text shorter than one chunk, or a context under 4, is an error', () => {
    expect(() => planChunks([1, 2, 3], 4, undefined, 'short.txt')).toThrow('short.txt: the text is 3 tokens long, shorter than one chunk of 4 tokens');
    expect(() => planChunks([1, 2, 3], 3, undefined, 'x')).toThrow('at least 4');
    expect(() => perplexity(ev, 'Once upon a time', 'tiny.txt', { context: 64 })).toThrow(/tiny\.txt: the text is \d+ tokens long, shorter than one chunk of 64/);
    expect(() => perplexity(ev, STORY, 'story.txt', { context: 128 })).toThrow('a chunk of 128 tokens does not fit the context of 64');
  });
});

describe('perplexity', () => {
  test('the prompt path (one forward call a chunk) equals decoding token by token (ts kernels)', () => {
    const model = loadModel(STORIES_GGUF).model;
    const tsEv = createEvaluator({ model, tokenizer: ev.tokenizer, kernels: tsKernels, contextLength: 32 });
    const plan = planChunks(tokenizeForPerplexity(tsEv, STORY), 32, 2, 'story');
    const fast = perplexityOfPlan(tsEv, plan);
    let nll = 0, n = 0;
    for (let i = 0; i < plan.chunks; i++) {
      const cache = createKVCache(model.config, 32);
      const input = chunkInput(plan, i, 1);
      for (let j = 0; j < 31; j++) {
        const logits = forward(model, tsKernels, cache, [input[j]], j);
        if (j >= plan.first) {
          nll -= tokenLogProb(logits, chunkTarget(plan, i, j));
          n++;
        }
      }
    }
    expect(fast.scored).toBe(n);
    expect(fast.perplexity).toBeCloseTo(Math.exp(nll / n), 4);
    expect(fast.running).toHaveLength(2);
    expect(fast.running[1]).toBe(fast.perplexity);
    expect(fast.uncertainty).toBeGreaterThan(0);
    expect(fast.uncertainty).toBeLessThan(fast.perplexity);
  });

  test('the progress line and durations', () => {
    expect(formatProgress({ chunk: 3, chunks: 10, perplexity: 12.34567, seconds: 3, secondsLeft: 7 }, 10)).toBe('[==>       ] 3/10 chunks  PPL 12.3457  0:07 left');
    expect(formatProgress({ chunk: 10, chunks: 10, perplexity: 2, seconds: 3, secondsLeft: 0 }, 4)).toBe('[====] 10/10 chunks  PPL 2.0000  0:00 left');
    expect(formatDuration(3725)).toBe('1:02:05');
  });
});

describe('multiple choice', () => {
  const task = parseTask([
    { context: 'Once upon a time, there was a little girl named Lily. She loved to play', choices: ['outside in the park.', 'with her toys.', 'the piano.'], answer: 0 },
    { context: 'Tom had a big red ball. He wanted to', choices: ['play with it.', 'eat it.'], answer: 0 },
    { context: 'The sun was hot. Lily drank some', choices: ['water.', 'rocks.'], answer: 0 },
  ].map((x) => JSON.stringify(x)).join('\n'), 'story.jsonl', 'story');

  test('continuing the cached context gives the scores of running every choice from scratch, with fewer tokens', () => {
    const reused = evaluateTask(ev, task);
    const scratch = evaluateTask(ev, task, { reuseContext: false });
    reused.results.forEach((r, i) => r.logLikelihoods.forEach((ll, c) => expect(ll).toBeCloseTo(scratch.results[i].logLikelihoods[c], 4)));
    expect(reused.tokensFromScratch).toBe(scratch.tokensRun);
    expect(reused.tokensRun).toBeLessThan(0.6 * scratch.tokensRun);
    expect(reused.acc.value).toBe(scratch.acc.value);
    expect(reused.cut).toBe(0);
  });

  test('acc takes the largest sum, acc_norm the largest sum per character; stderr from the 0/1 outcomes', () => {
    const r = evaluateTask(ev, task);
    for (const [i, item] of r.results.entries()) {
      const ll = item.logLikelihoods;
      const chars = task.items[i].requests.map((q) => q.normText.length);
      expect(item.correct.acc).toBe(ll.indexOf(Math.max(...ll)) === item.gold);
      const normed = ll.map((x, c) => x / chars[c]);
      expect(item.correct.acc_norm).toBe(normed.indexOf(Math.max(...normed)) === item.gold);
    }
    const accs: number[] = r.results.map((x) => (x.correct.acc ? 1 : 0));
    expect(r.acc.value).toBeCloseTo(accs.reduce((a, b) => a + b, 0) / 3, 12);
    expect(r.chance).toBeCloseTo((1 / 3 + 1 / 2 + 1 / 2) / 3, 12);
  });

  test('a context longer than the model\'s is cut from the left, BOS kept, and counted', () => {
    const long = parseTask(JSON.stringify({ context: STORY.slice(0, 600), choices: ['happy.', 'sad.'], answer: 0 }), 'long.jsonl', 'long');
    const r = evaluateTask(ev, long);
    expect(r.cut).toBe(1);
    // The same score from the cut sequence run by hand: BOS + the last context tokens + the choice.
    const req = tokenizeRequest(ev, long.items[0].requests[0], 'long');
    const longestCont = Math.max(...long.items[0].requests.map((q) => tokenizeRequest(ev, q, 'long').continuation.length));
    const cut = req.context.length + longestCont - 1 - 64;
    const ctx = [req.context[0], ...req.context.slice(1 + cut)];
    expect(cut).toBeGreaterThan(0);
    const byHand = scoreItem(ev, [{ context: ctx, continuation: req.continuation }], 'x', false);
    expect(byHand.cutTokens).toBe(0);
    expect(r.results[0].logLikelihoods[0]).toBeCloseTo(byHand.logLikelihoods[0], 4);
  });

  test('a continuation longer than the whole context is an error naming the line', () => {
    const huge = parseTask(JSON.stringify({ context: 'a', choices: [STORY, 'b'], answer: 0 }), 'huge.jsonl', 'huge');
    expect(() => evaluateTask(ev, huge)).toThrow(/^huge\.jsonl:1: a continuation of \d+ tokens does not fit the context of 64/);
  });

  test('paper scoring: BoolQ by log P(c | context) − log P(c | "Answer:"), other shapes by acc_norm', () => {
    const boolq = parseTask(JSON.stringify({ passage: 'Lily had a red ball.', question: 'did lily have a ball', answer: true }), 'b.jsonl', 'boolq');
    const r = evaluateTask(ev, boolq, { scoring: 'paper' });
    const item = r.results[0];
    expect(item.unconditional).toHaveLength(2);
    const score = item.logLikelihoods.map((x, i) => x - item.unconditional![i]);
    expect(item.correct.acc_paper).toBe(score.indexOf(Math.max(...score)) === 1);
    const generic = evaluateTask(ev, task, { scoring: 'paper' });
    expect(generic.results.every((x) => x.unconditional === undefined && x.correct.acc_paper === x.correct.acc_norm)).toBe(true);
    expect(generic.acc_paper!.value).toBe(generic.acc_norm.value);
  });

  test('few-shot: K distinct solved items, never the item itself; too few to draw from is an error', () => {
    const rng = new Rng(1);
    for (const item of task.items) {
      const shots = drawShots(task.items, 2, item, rng);
      expect(new Set(shots).size).toBe(2);
      expect(shots).not.toContain(item);
    }
    expect(solved(task.items[1])).toBe('Tom had a big red ball. He wanted to play with it.');
    const oneShot = evaluateTask(ev, task, { shots: 1 });
    const zeroShot = evaluateTask(ev, task);
    expect(oneShot.results[0].logLikelihoods[0]).not.toBeCloseTo(zeroShot.results[0].logLikelihoods[0], 3);
    expect(() => evaluateTask(ev, task, { shots: 3 })).toThrow('3 shots asked for, but only 3 items to draw them from');
  });
});

describe('KL divergence', () => {
  async function saveBase(path: string): Promise<void> {
    const plan = planChunks(tokenizeForPerplexity(ev, STORY), 32, undefined, 'story');
    const writer = new LogitsWriter(path, logitsHeaderFor(plan, ev.modelName, ev.model.config.vocabSize), plan.tokens.slice(0, plan.chunks * plan.context));
    perplexityOfPlan(ev, plan, { onScoredRow: (row, t) => writer.writeRow(row, t) });
    writer.close();
  }

  test('a model against its own saved logits: KL ≈ 0, the same top token everywhere, PPL ratio 1', async () => {
    const path = join(dir, 'base.logits');
    await saveBase(path);
    const base = new LogitsReader(path);
    const r = klDivergence(ev, planFromBase(ev, STORY, base, 'story'), base);
    base.close();
    expect(r.scored).toBe(r.chunks * 15);
    expect(r.kl.value).toBeLessThan(1e-6); // only the F16 rounding of the stored log-probabilities
    expect(r.kl.value).toBeGreaterThanOrEqual(0);
    expect(r.sameTop.value).toBe(1);
    expect(r.pplRatio.value).toBeCloseTo(1, 7); // the base NLLs are stored as F32
    expect(r.lnPplCorrelation).toBeCloseTo(1, 6);
  });

  test('a Q4_0 copy against the F32 base: KL > 0, ranked percentiles, and the ratio of the two perplexities', async () => {
    const path = join(dir, 'base2.logits');
    await saveBase(path);
    const q4 = join(dir, 'q4.gguf');
    quantizeFile(STORIES_GGUF, q4, { type: 'q4_0' });
    const evQ = await loadEvaluator({ model: q4, contextLength: 64, threads: 1 });
    try {
      const base = new LogitsReader(path);
      const plan = planFromBase(evQ, STORY, base, 'story');
      const r = klDivergence(evQ, plan, base);
      base.close();
      const pplQ = perplexityOfPlan(evQ, plan).perplexity;
      const pplBase = perplexityOfPlan(ev, plan).perplexity;
      expect(r.kl.value).toBeGreaterThan(1e-4);
      const k = r.klPercentiles;
      expect([k.min, k.p1, k.p5, k.p10, k.median, k.p90, k.p95, k.p99, k.p99_9, k.max]).toEqual([k.min, k.p1, k.p5, k.p10, k.median, k.p90, k.p95, k.p99, k.p99_9, k.max].sort((a, b) => a - b));
      expect(r.pplQ.value).toBeCloseTo(pplQ, 6);
      expect(r.pplBase.value).toBeCloseTo(pplBase, 6);
      expect(r.pplRatio.value).toBeCloseTo(pplQ / pplBase, 6);
      expect(r.sameTop.value).toBeGreaterThan(0.5);
      expect(r.sameTop.value).toBeLessThanOrEqual(1);
    } finally {
      await evQ.close();
    }
  });

  test('another text, a cut-short file, a wrong magic and another vocabulary are clear errors', async () => {
    const path = join(dir, 'base3.logits');
    await saveBase(path);
    const base = new LogitsReader(path);
    expect(() => planFromBase(ev, STORY.replace('Lily', 'Anna'), base, 'other.txt')).toThrow(new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: its token \\d+ is \\d+, other.txt gives \\d+ here: not the same text`));
    const other = { ...ev, model: { ...ev.model, config: { ...ev.model.config, vocabSize: 1024 } } };
    expect(() => planFromBase(other, STORY, base, 'story')).toThrow('the base model (stories260K.gguf) has a vocabulary of 512, this model 1024');
    base.close();
    const size = readFileSync(path).length;
    truncateSync(path, size - 10);
    expect(() => new LogitsReader(path)).toThrow(`${path}: ${size - 10} bytes, but its header`);
    const junk = join(dir, 'junk.logits');
    writeFileSync(junk, 'not a logits file at all');
    expect(() => new LogitsReader(junk)).toThrow(`${junk}: not a llama-ts logits file`);
  });
});

test('the tokenizer inside stories260K.gguf is the one the evaluator uses', () => {
  const vocab = vocabularyFromGGUF(loadModel(STORIES_GGUF).gguf!.metadata, STORIES_GGUF);
  expect(ev.tokenizer.encode('Once upon a time', { bos: true })).toEqual(new Tokenizer(vocab).encode('Once upon a time', { bos: true }));
});
