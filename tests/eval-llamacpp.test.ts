// Agreement with llama.cpp (through node-llama-cpp, CPU, F32 KV cache) on the same GGUF:
// perplexity over llama.cpp's chunks, and every choice's log-likelihood in a multiple-choice
// task, computed by llama-ts's evaluator (WASM kernels, the default) and from llama.cpp's
// token probabilities over the very same token sequences. Both within 1e-3 relative.
//
// Conventions: llama-ts's perplexity is llama-perplexity's (exp of the mean NLL over the
// second half of each chunk); its multiple-choice scores are lm-evaluation-harness's sums of
// log-probabilities over the continuation (llama-perplexity --hellaswag averages per token
// instead; the sums here are compared, the per-token mean follows from them).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ControlledEvaluateInputItem, Llama, Token } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { randomModel } from '../reference/init.js';
import { modelToGGUF } from '../src/convert/to-gguf.js';
import { chunkInput, planChunks } from '../src/eval/chunks.js';
import { tokenizeRequest } from '../src/eval/likelihood.js';
import { loadEvaluator } from '../src/llama.js';
import { openLlamaCpp } from './llamacpp-helpers.js';
import { evaluateTask } from '../src/eval/multiple-choice.js';
import { perplexityOfPlan } from '../src/eval/perplexity.js';
import { parseTask } from '../src/eval/tasks.js';
import { vocabularyFromSentencePieceModel } from '../src/tokenizer/sentencepiece-model.js';
import { readFileSync } from 'node:fs';
import { STORY } from './eval-data.js';

const data = (rel: string) => fileURLToPath(new URL(`../../shared/data/${rel}`, import.meta.url));
const STORIES_GGUF = data('stories260K/stories260K.gguf');
const TOK512_MODEL = data('stories260K/tok512.model');
const RELATIVE = 1e-3;

const TASK = [
  { context: 'Once upon a time, there was a little girl named Lily. She loved to play', choices: ['outside in the park.', 'with her toys.', 'the piano at school every day.'], answer: 0 },
  { context: 'Tom had a big red ball. He wanted to', choices: ['play with it.', 'eat it.'], answer: 'play with it.' },
].map((x) => JSON.stringify(x)).join('\n');
const WINOGRANDE = JSON.stringify({ sentence: 'Lily gave the ball to Tom because _ was kind and wanted to share.', option1: 'Lily', option2: 'Tom', answer: '1' });

let llama: Llama;
let dir: string;

beforeAll(async () => {
  llama = await openLlamaCpp();
  dir = mkdtempSync(join(tmpdir(), 'eval-llamacpp-'));
});

afterAll(async () => {
  await llama?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// llama.cpp's log p(tokens[q+1] | tokens[..q]) for q in from..tokens.length−2, one sequence
// evaluated from position 0 in one batch.
async function theirLogProbs(path: string, sequences: { tokens: number[]; from: number }[], contextSize: number): Promise<number[][]> {
  const model = await llama.loadModel({ modelPath: path });
  try {
    const context = await model.createContext({
      contextSize, batchSize: contextSize, threads: 1, flashAttention: false,
      experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32',
    });
    const sequence = context.getSequence();
    const out: number[][] = [];
    for (const { tokens, from } of sequences) {
      await sequence.clearHistory();
      const input = tokens.slice(0, -1).map((t, q): ControlledEvaluateInputItem => (q >= from ? [t as Token, { generateNext: { probabilities: true } }] : (t as Token)));
      const result = await sequence.controlledEvaluate(input);
      const logps: number[] = [];
      for (let q = from; q < tokens.length - 1; q++) {
        const p = result[q]?.next.probabilities?.get(tokens[q + 1] as Token);
        if (p === undefined || p <= 0) throw new Error(`llama.cpp gave no probability for token ${tokens[q + 1]} at position ${q}`);
        logps.push(Math.log(p));
      }
      out.push(logps);
    }
    await context.dispose();
    return out;
  } finally {
    await model.dispose();
  }
}

const relative = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

async function checkPerplexity(name: string, path: string, context: number) {
  const ev = await loadEvaluator({ model: path, contextLength: context, threads: 1 });
  try {
    const plan = planChunks(ev.tokenizer.encode(STORY, { bos: true }), context, undefined, 'STORY');
    expect(plan.chunks).toBeGreaterThanOrEqual(2);
    const ours = perplexityOfPlan(ev, plan);
    const theirs = await theirLogProbs(path, Array.from({ length: plan.chunks }, (_, i) => ({ tokens: chunkInput(plan, i, ev.tokenizer.vocab.bosId), from: plan.first })), context);
    // Targets: the chunk's own tokens (BOS replaces only position 0, never a target).
    const nlls = theirs.flat().map((lp) => -lp);
    expect(nlls.length).toBe(ours.scored);
    const theirPpl = Math.exp(nlls.reduce((a, b) => a + b, 0) / nlls.length);
    console.log(`${name}: perplexity ${ours.perplexity.toFixed(6)} (llama-ts) vs ${theirPpl.toFixed(6)} (llama.cpp), relative ${relative(ours.perplexity, theirPpl).toExponential(2)}`);
    expect(relative(ours.perplexity, theirPpl)).toBeLessThan(RELATIVE);
    expect(ours.perplexity).toBeGreaterThan(1);
  } finally {
    await ev.close();
  }
}

async function checkChoices(name: string, path: string, context: number) {
  const ev = await loadEvaluator({ model: path, contextLength: context, threads: 1 });
  try {
    for (const [taskName, text] of [['generic', TASK], ['winogrande', WINOGRANDE]]) {
      const task = parseTask(text, `${taskName}.jsonl`, taskName);
      const ours = evaluateTask(ev, task);
      const requests = task.items.flatMap((item) => item.requests.map((r) => tokenizeRequest(ev, r, 'test')));
      const theirs = await theirLogProbs(path, requests.map((r) => ({ tokens: [...r.context, ...r.continuation], from: r.context.length - 1 })), context);
      const oursFlat = ours.results.flatMap((r) => r.logLikelihoods);
      const theirsFlat = theirs.map((lps) => lps.reduce((a, b) => a + b, 0));
      const worst = Math.max(...oursFlat.map((x, i) => relative(x, theirsFlat[i])));
      console.log(`${name} ${taskName}: ${oursFlat.length} choices, log-likelihoods ${oursFlat.map((x) => x.toFixed(4)).join(' ')}; worst relative difference ${worst.toExponential(2)}`);
      expect(oursFlat.length).toBe(theirsFlat.length);
      expect(worst).toBeLessThan(RELATIVE);
    }
  } finally {
    await ev.close();
  }
}

describe('llama-ts evaluation agrees with llama.cpp', () => {
  test('stories260K.gguf: perplexity over 64-token chunks', async () => {
    await checkPerplexity('stories260K', STORIES_GGUF, 64);
  });

  test('stories260K.gguf: multiple-choice log-likelihoods (generic and WinoGrande partial scoring)', async () => {
    await checkChoices('stories260K', STORIES_GGUF, 64);
  });

  test('a random grouped-KV model (dim 96, 6/2 heads, untied) written as GGUF: perplexity and choices', async () => {
    const tok512 = vocabularyFromSentencePieceModel(new Uint8Array(readFileSync(TOK512_MODEL)), TOK512_MODEL);
    const model = randomModel({
      dim: 96, nLayers: 2, nHeads: 6, nKvHeads: 2, hiddenDim: 200, vocabSize: 512, maxSeqLen: 128,
      normEps: 1e-5, ropeTheta: 10000, sharedClassifier: false,
    }, 21, { std: 0.3, gainJitter: 0.5 });
    const path = join(dir, 'random.gguf');
    writeFileSync(path, modelToGGUF(model, { dtype: 'f32', vocabulary: tok512 }));
    await checkPerplexity('random dim96', path, 96);
    await checkChoices('random dim96', path, 128);
  });

  test("a random model of llama2.c's 15M shape (dim 288, 6 layers, the LLaMA tokenizer's 32000 tokens): perplexity and choices", async () => {
    const llamaModel = data('llama-tokenizer/tokenizer.model');
    const vocabulary = vocabularyFromSentencePieceModel(new Uint8Array(readFileSync(llamaModel)), llamaModel);
    const model = randomModel({
      dim: 288, nLayers: 6, nHeads: 6, nKvHeads: 6, hiddenDim: 768, vocabSize: 32000, maxSeqLen: 256,
      normEps: 1e-5, ropeTheta: 10000, sharedClassifier: true,
    }, 22, { std: 0.05, gainJitter: 0.5 });
    const path = join(dir, 'random-15M.gguf');
    writeFileSync(path, modelToGGUF(model, { dtype: 'f32', vocabulary }));
    await checkPerplexity('random 15M shape', path, 64);
    await checkChoices('random 15M shape', path, 128);
  }, 300_000);
});
