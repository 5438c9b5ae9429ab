// The training loop: the paper's recipe at small scale. AdamW (β 0.9/0.95, weight decay 0.1),
// warmup then cosine decay to 10 % of the peak learning rate, gradient clipping at 1.0,
// optional activation recomputation; seeded, so a seed and the flags name a run exactly.
//
//   for step = 1 .. steps:
//     batches = stepBatches(seed, step)                   A micro-batches of B × (T+1) tokens
//     loss = trainStep(batches, lrAt(step))               mean grad, clip, AdamW
//     every evalEvery steps: mean loss over fixed validation batches
//     every saveEvery steps, on abort (Ctrl-C), at stopAfter and at the end: checkpoint
//
// A step depends only on the weights, the AdamW moments and the step number, all in the
// checkpoint, so a resumed run repeats an uninterrupted one bit for bit.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { swigluHiddenDim, validateConfig, DEFAULT_NORM_EPS, DEFAULT_ROPE_THETA, type LlamaConfig } from '../../reference/config.js';
import { LLAMA_ADAMW } from '../../reference/adamw.js';
import { randomModel } from '../../reference/init.js';
import { lrAt } from '../../reference/schedule.js';
import type { Batch } from '../../reference/train-model.js';
import type { LlamaModel } from '../../reference/weights.js';
import { loadTokenizer } from '../tokenizer/load.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { removeStaleTemporaries } from '../io/atomic-file.js';
import { createTrainingBackend, type TrainBackend } from './backend.js';
import { loadCheckpoint, restoreOptimizer, saveCheckpoint, type TrainState } from './checkpoint.js';
import { readTokenFile, splitTokens, stepBatches, validationBatches, type TokenArray } from './data.js';
import { prepareData } from './prepare.js';
import { progressLine, Reporter, writeLogFiles, type TrainLog } from './report.js';
import { createTrainer, meanLoss, trainStep, type Trainer } from './step.js';

export interface TrainOptions {
  out: string; // output folder: checkpoint, tokenizer, tokens, log.json, loss.svg
  texts: string[]; // text files (paragraphs are documents)
  tokens?: string; // or a ready token file
  tokenizer?: string; // default: train one with spm_train (vocab pieces)
  vocab?: number; // tokenizer size to train; with --tokenizer it must match if given
  dim: number;
  layers: number;
  heads: number;
  kvHeads: number;
  hidden?: number; // default swigluHiddenDim(dim, 32)
  seqLen: number; // T
  sharedClassifier: boolean;
  steps: number; // total optimizer steps (the schedule's length)
  batch: number; // B sequences per micro-batch
  gradAccum: number; // A micro-batches per step
  lr: number; // peak learning rate
  warmup: number;
  minLrRatio: number;
  weightDecay: number;
  clip: number;
  recompute: boolean;
  seed: number;
  valFraction: number;
  evalEvery: number; // 0: only at the end
  evalBatches: number;
  saveEvery: number; // 0: only at the end
  backend?: TrainBackend; // default: wasm when available
  threads?: number; // wasm kernel threads (default: the number of cores); the result does not depend on it
  stopAfter?: number; // stop (with a checkpoint) after this step, to --resume later
}

export const TRAIN_DEFAULTS: Omit<TrainOptions, 'out' | 'texts'> = {
  dim: 128, layers: 4, heads: 8, kvHeads: 4, seqLen: 128, sharedClassifier: false,
  steps: 1000, batch: 8, gradAccum: 1, lr: 1e-3, warmup: 100, minLrRatio: 0.1, weightDecay: 0.1, clip: 1.0,
  recompute: false, seed: 1337, valFraction: 0.05, evalEvery: 100, evalBatches: 4, saveEvery: 500,
};

// Options a resumed run may change; the rest come from the checkpoint.
export const RESUMABLE_OPTIONS = ['steps', 'evalEvery', 'evalBatches', 'saveEvery', 'backend', 'threads', 'stopAfter'] as const;

export interface TrainHooks {
  signal?: AbortSignal; // abort: checkpoint after the current step and return
  stderr?: NodeJS.WriteStream | null; // progress; default process.stderr, null for silence
}

export interface TrainResult {
  step: number; // steps done when the run returned
  stopped: 'done' | 'aborted' | 'stop-after';
  log: TrainLog; // the whole run's, earlier sessions included
  model: LlamaModel;
  out: string;
}

export function modelConfig(o: TrainOptions, vocabSize: number): LlamaConfig {
  const config: LlamaConfig = {
    dim: o.dim, nLayers: o.layers, nHeads: o.heads, nKvHeads: o.kvHeads, hiddenDim: o.hidden ?? swigluHiddenDim(o.dim, 32),
    vocabSize, maxSeqLen: o.seqLen, normEps: DEFAULT_NORM_EPS, ropeTheta: DEFAULT_ROPE_THETA, sharedClassifier: o.sharedClassifier,
  };
  validateConfig(config, 'model shape (--dim/--layers/--heads/--kv-heads/--hidden/--seq-len)');
  return config;
}

function checkOptions(o: TrainOptions): void {
  const positive: (keyof TrainOptions)[] = ['steps', 'batch', 'gradAccum', 'evalBatches'];
  for (const k of positive) if (!Number.isSafeInteger(o[k]) || (o[k] as number) <= 0) throw new Error(`${k} must be a positive integer, got ${String(o[k])}`);
  for (const k of ['warmup', 'evalEvery', 'saveEvery'] as const) if (!Number.isSafeInteger(o[k]) || o[k] < 0) throw new Error(`${k} must be an integer ≥ 0, got ${o[k]}`);
  if (o.warmup > o.steps) throw new Error(`warmup ${o.warmup} is longer than the run's ${o.steps} steps`);
  if (!(o.lr > 0) || !Number.isFinite(o.lr)) throw new Error(`lr must be a positive number, got ${o.lr}`);
  if (!(o.clip > 0)) throw new Error(`clip must be positive, got ${o.clip}`);
  if (!(o.minLrRatio >= 0 && o.minLrRatio <= 1)) throw new Error(`min-lr-ratio must be in [0, 1], got ${o.minLrRatio}`);
  if (!(o.weightDecay >= 0)) throw new Error(`weight-decay must be ≥ 0, got ${o.weightDecay}`);
  if (o.threads !== undefined && !(Number.isSafeInteger(o.threads) && o.threads >= 1)) throw new Error(`threads must be a positive integer, got ${o.threads}`);
  if (!Number.isSafeInteger(o.seed)) throw new Error(`seed must be an integer, got ${o.seed}`);
}

interface Session {
  options: TrainOptions;
  tokenizer: Tokenizer;
  tokens: TokenArray;
  model: LlamaModel;
  state: TrainState; // step, elapsed, tokens seen so far
  ckpt?: ReturnType<typeof loadCheckpoint>;
  log: TrainLog;
}

// A fresh run: tokenizer and tokens, then a model initialized from the seed.
function startSession(options: TrainOptions, reporter: Reporter): Session {
  checkOptions(options);
  mkdirSync(options.out, { recursive: true });
  const data = prepareData({ ...options, log: (l) => reporter.line(l) });
  if (options.vocab !== undefined && options.tokenizer && options.vocab !== data.tokenizer.vocabSize) {
    throw new Error(`--vocab ${options.vocab} but ${options.tokenizer} has ${data.tokenizer.vocabSize} pieces`);
  }
  const resolved: TrainOptions = { ...options, tokenizer: data.tokenizerFile, tokens: data.tokensFile, texts: [] };
  const config = modelConfig(options, data.tokenizer.vocabSize);
  const state: TrainState = { format: 'llama-ts-train', version: 1, step: 0, config, options: { ...resolved }, tokensSeen: 0, elapsedSeconds: 0 };
  return { options: resolved, tokenizer: data.tokenizer, tokens: data.tokens, model: randomModel(config, options.seed), state, log: { steps: [], evals: [] } };
}

// A resumed run: everything from the checkpoint in `dir`, but the options RESUMABLE_OPTIONS names.
function resumeSession(dir: string, overrides: Partial<TrainOptions>): Session {
  const ckpt = loadCheckpoint(dir);
  const saved = ckpt.state.options as unknown as TrainOptions;
  const options: TrainOptions = { ...saved, out: dir };
  for (const k of RESUMABLE_OPTIONS) if (overrides[k] !== undefined) (options as unknown as Record<string, unknown>)[k] = overrides[k];
  if (overrides.stopAfter === undefined) delete options.stopAfter;
  if (overrides.threads === undefined) delete options.threads; // a machine's setting, not the run's
  checkOptions(options);
  // Files saved inside the run folder are looked for there too, should the folder have moved.
  const find = (path: string) => (existsSync(path) ? path : join(dir, basename(path)));
  options.tokenizer = find(saved.tokenizer!);
  options.tokens = find(saved.tokens!);
  const tokenizer = loadTokenizer(options.tokenizer);
  const tokens = readTokenFile(options.tokens).tokens;
  const log = readLog(dir, ckpt.state.step);
  return { options, tokenizer, tokens, model: ckpt.model, state: { ...ckpt.state, options: { ...options } }, ckpt, log };
}

// The earlier sessions' log, cut at the checkpoint's step (log.json may be a step ahead).
function readLog(dir: string, step: number): TrainLog {
  const path = join(dir, 'log.json');
  if (!existsSync(path)) return { steps: [], evals: [] };
  try {
    const j = JSON.parse(readFileSync(path, 'utf8')) as TrainLog;
    return { gradNormGroups: j.gradNormGroups, steps: j.steps.filter((s) => s.step <= step), evals: j.evals.filter((e) => e.step <= step) };
  } catch {
    return { steps: [], evals: [] };
  }
}

export function train(options: TrainOptions, hooks: TrainHooks = {}): Promise<TrainResult> {
  const reporter = new Reporter(hooks.stderr === undefined ? process.stderr : hooks.stderr);
  return runSession(startSession(options, reporter), reporter, hooks);
}

export function resumeTraining(dir: string, overrides: Partial<TrainOptions> = {}, hooks: TrainHooks = {}): Promise<TrainResult> {
  const reporter = new Reporter(hooks.stderr === undefined ? process.stderr : hooks.stderr);
  return runSession(resumeSession(dir, overrides), reporter, hooks);
}

async function runSession(s: Session, reporter: Reporter, hooks: TrainHooks): Promise<TrainResult> {
  const o = s.options;
  for (const name of removeStaleTemporaries(o.out)) reporter.line(`removed ${name}, left by a run that was killed while saving`);
  const backend = await createTrainingBackend(o.backend, o.threads);
  if (backend.note) reporter.line(`note: ${backend.note}`);
  try {
    const model = backend.place(s.model);
    const trainer = createTrainer(model, backend.kernels, {
      adamw: { ...LLAMA_ADAMW, weightDecay: o.weightDecay }, maxGradNorm: o.clip, forward: { recompute: o.recompute },
    });
    if (s.ckpt) restoreOptimizer(trainer, s.ckpt);
    const { train: trainTokens, val } = splitTokens(s.tokens, o.valFraction);
    const valBatches = val.length > o.seqLen ? validationBatches(val, o.seed, o.evalBatches, o.batch, o.seqLen) : [];
    if (valBatches.length === 0) reporter.line(`note: ${val.length} validation tokens, too few for a sequence of ${o.seqLen}; no validation loss`);
    const params = s.model.config;
    const nParams = trainer.params.reduce((n, p) => n + p.value.length, 0);
    reporter.line(`model: dim ${params.dim}, ${params.nLayers} layers, ${params.nHeads}/${params.nKvHeads} heads, hidden ${params.hiddenDim}, vocab ${params.vocabSize}, ` +
      `${(nParams / 1e6).toFixed(2)}M parameters; ${trainTokens.length} training tokens; backend ${backend.name}` + (s.state.step ? `; resuming at step ${s.state.step}` : ''));
    return await loop(s, trainer, trainTokens, valBatches, reporter, hooks);
  } finally {
    await backend.close();
  }
}

async function loop(s: Session, trainer: Trainer, tokens: TokenArray, valBatches: Batch[], reporter: Reporter, hooks: TrainHooks): Promise<TrainResult> {
  const o = s.options;
  s.log.gradNormGroups = trainer.gradGroups;
  const schedule = { peak: o.lr, warmup: o.warmup, total: o.steps, minRatio: o.minLrRatio };
  const tokensPerStep = o.batch * o.seqLen * o.gradAccum;
  const sessionStart = performance.now();
  const elapsedBefore = s.state.elapsedSeconds;
  const firstStep = s.state.step + 1;
  const save = (why: string) => {
    s.state.elapsedSeconds = elapsedBefore + (performance.now() - sessionStart) / 1000;
    writeLogFiles(o.out, s.log, { config: s.state.config, options: s.state.options });
    saveCheckpoint(o.out, trainer, s.state, s.tokenizer.vocab, 'llama-ts train');
    reporter.line(`${why}: checkpoint at step ${s.state.step} in ${o.out}`);
  };
  const evaluate = () => {
    if (valBatches.length === 0 || s.log.evals.some((e) => e.step === s.state.step)) return;
    const valLoss = meanLoss(trainer, valBatches);
    s.log.evals.push({ step: s.state.step, valLoss, valPerplexity: Math.exp(valLoss) });
    reporter.line(`step ${s.state.step}: validation loss ${valLoss.toFixed(4)}`);
  };
  let stopped: TrainResult['stopped'] = 'done';
  for (let step = firstStep; step <= o.steps; step++) {
    const t0 = performance.now();
    const lr = lrAt(step, schedule);
    const { loss, gradNorm, groupNorms } = trainStep(trainer, stepBatches(tokens, o.seed, step, o.batch, o.seqLen, o.gradAccum), lr);
    if (!Number.isFinite(loss)) throw new Error(`step ${step}: the loss is ${loss}; lower --lr (the last checkpoint is still in ${o.out})`);
    const seconds = (performance.now() - t0) / 1000;
    s.state.step = step;
    s.state.tokensSeen += tokensPerStep;
    const elapsedSeconds = elapsedBefore + (performance.now() - sessionStart) / 1000;
    const record = { step, loss, lr, gradNorm, groupGradNorms: groupNorms.map((n) => Number(n.toPrecision(6))), tokensPerSecond: tokensPerStep / seconds, elapsedSeconds };
    s.log.steps.push(record);
    const perStep = (performance.now() - sessionStart) / 1000 / (step - firstStep + 1);
    reporter.progress(progressLine(record, o.steps, perStep * (o.steps - step)));
    if (o.evalEvery > 0 && step % o.evalEvery === 0) evaluate();
    await new Promise((r) => setImmediate(r)); // let a SIGINT handler run between steps
    if (step === o.steps) break;
    if (hooks.signal?.aborted) {
      stopped = 'aborted';
      break;
    }
    if (o.stopAfter !== undefined && step >= o.stopAfter) {
      stopped = 'stop-after';
      break;
    }
    if (o.saveEvery > 0 && step % o.saveEvery === 0) save('saved');
  }
  if (stopped === 'done') evaluate();
  save(stopped === 'done' ? 'done' : stopped === 'aborted' ? 'interrupted' : `stopped after step ${s.state.step}`);
  return { step: s.state.step, stopped, log: s.log, model: trainer.model, out: o.out };
}
