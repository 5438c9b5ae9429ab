import { parseTrainBackend } from '../train/backend.js';
import { resumeTraining, train, TRAIN_DEFAULTS, type TrainOptions } from '../train/train.js';
import { intFlag, numberFlag, parseCommand, stringFlag, type Parsed } from './options.js';

const d = TRAIN_DEFAULTS;
const help = `usage: llama-ts train --out DIR [options] TEXT_FILE...
       llama-ts train --resume DIR [--steps N] [--stop-after K] [--backend NAME] [--threads N]

Trains a LLaMA from scratch on text files (each paragraph is a document, BOS before it).
DIR receives tokenizer.model, tokens.bin, the checkpoint (model.gguf with the tokenizer
inside, model.bin for llama2.c, optimizer.bin + state.json to resume), log.json and its
pictures: loss.svg, perplexity.svg (validation), grad-norm.svg (global and per layer), lr.svg.
Ctrl-C saves a checkpoint after the current step and exits.

data
  --out DIR             output folder (created)
  --tokenizer FILE      tokenizer (.model, tokenizer.bin or GGUF); default: train one with spm_train
  --vocab N             pieces of a trained tokenizer (default 512)
  --tokens FILE         a token file made earlier (DIR/tokens.bin) instead of text files
  --val-fraction F      the last F of the tokens is for validation (default ${d.valFraction})
model
  --dim N               width (default ${d.dim})
  --layers N            transformer blocks (default ${d.layers})
  --heads N             query heads (default ${d.heads})
  --kv-heads N          key/value heads (default ${d.kvHeads})
  --hidden N            feed-forward width (default: 2/3·4·dim rounded up to 32)
  --seq-len N           context length trained on (default ${d.seqLen})
  --shared-classifier   the output matrix is the token embedding (llama2.c's small models)
optimization
  --steps N             optimizer steps (default ${d.steps})
  --batch B             sequences per micro-batch (default ${d.batch})
  --grad-accum A        micro-batches per step (default ${d.gradAccum})
  --lr LR               peak learning rate (default ${d.lr})
  --warmup N            linear warmup steps (default ${d.warmup}, at most --steps)
  --min-lr-ratio R      cosine decays to R × peak (default ${d.minLrRatio})
  --weight-decay W      AdamW decoupled weight decay (default ${d.weightDecay})
  --clip C              global gradient-norm clip (default ${d.clip})
  --recompute           recompute activations in the backward pass (less memory)
  --seed S              initialization and data order (default ${d.seed})
  --backend NAME        wasm (SIMD, default when built) or ts (the readable reference)
  --threads N           wasm kernel threads (default: the number of cores; the same bits at any count)
progress
  --eval-every N        validation loss every N steps (default ${d.evalEvery}; 0 = at the end)
  --eval-batches N      validation batches, fixed for the whole run (default ${d.evalBatches})
  --save-every N        checkpoint every N steps (default ${d.saveEvery}; 0 = at the end)
  --stop-after K        stop with a checkpoint after step K (continue with --resume)
  --resume DIR          continue the run whose checkpoint is in DIR
`;

const flags = {
  out: { type: 'string' }, tokenizer: { type: 'string' }, vocab: { type: 'string' }, tokens: { type: 'string' },
  'val-fraction': { type: 'string' }, dim: { type: 'string' }, layers: { type: 'string' }, heads: { type: 'string' },
  'kv-heads': { type: 'string' }, hidden: { type: 'string' }, 'seq-len': { type: 'string' }, 'shared-classifier': { type: 'boolean' },
  steps: { type: 'string' }, batch: { type: 'string' }, 'grad-accum': { type: 'string' }, lr: { type: 'string' },
  warmup: { type: 'string' }, 'min-lr-ratio': { type: 'string' }, 'weight-decay': { type: 'string' }, clip: { type: 'string' },
  recompute: { type: 'boolean' }, seed: { type: 'string' }, backend: { type: 'string' }, threads: { type: 'string' }, 'eval-every': { type: 'string' },
  'eval-batches': { type: 'string' }, 'save-every': { type: 'string' }, 'stop-after': { type: 'string' }, resume: { type: 'string' },
} as const;

// The flags a resumed run may change (train.ts RESUMABLE_OPTIONS).
const RESUME_FLAGS = new Set(['resume', 'steps', 'eval-every', 'eval-batches', 'save-every', 'backend', 'threads', 'stop-after']);

function fromFlags(v: Parsed['values'], texts: string[]): TrainOptions {
  const out = stringFlag(v, 'out');
  if (!out) throw new Error('train needs --out DIR (see llama-ts train --help)');
  const steps = intFlag(v, 'steps') ?? d.steps;
  return {
    ...d, out, texts,
    tokens: stringFlag(v, 'tokens'), tokenizer: stringFlag(v, 'tokenizer'), vocab: intFlag(v, 'vocab'),
    valFraction: numberFlag(v, 'val-fraction') ?? d.valFraction,
    dim: intFlag(v, 'dim') ?? d.dim, layers: intFlag(v, 'layers') ?? d.layers, heads: intFlag(v, 'heads') ?? d.heads,
    kvHeads: intFlag(v, 'kv-heads') ?? d.kvHeads, hidden: intFlag(v, 'hidden'), seqLen: intFlag(v, 'seq-len') ?? d.seqLen,
    sharedClassifier: v['shared-classifier'] === true,
    steps, batch: intFlag(v, 'batch') ?? d.batch, gradAccum: intFlag(v, 'grad-accum') ?? d.gradAccum, lr: numberFlag(v, 'lr') ?? d.lr,
    warmup: intFlag(v, 'warmup') ?? Math.min(d.warmup, Math.floor(steps / 10)), minLrRatio: numberFlag(v, 'min-lr-ratio') ?? d.minLrRatio,
    weightDecay: numberFlag(v, 'weight-decay') ?? d.weightDecay, clip: numberFlag(v, 'clip') ?? d.clip,
    recompute: v.recompute === true, seed: intFlag(v, 'seed') ?? d.seed, backend: parseTrainBackend(stringFlag(v, 'backend')), threads: intFlag(v, 'threads'),
    evalEvery: intFlag(v, 'eval-every') ?? d.evalEvery, evalBatches: intFlag(v, 'eval-batches') ?? d.evalBatches,
    saveEvery: intFlag(v, 'save-every') ?? d.saveEvery, stopAfter: intFlag(v, 'stop-after'),
  };
}

function resumeOverrides(v: Parsed['values']): Partial<TrainOptions> {
  const refused = Object.keys(v).filter((k) => v[k] !== undefined && !RESUME_FLAGS.has(k));
  if (refused.length) throw new Error(`--resume takes its settings from the checkpoint; ${refused.map((k) => '--' + k).join(', ')} cannot change`);
  return {
    steps: intFlag(v, 'steps'), evalEvery: intFlag(v, 'eval-every'), evalBatches: intFlag(v, 'eval-batches'),
    saveEvery: intFlag(v, 'save-every'), backend: parseTrainBackend(stringFlag(v, 'backend')), threads: intFlag(v, 'threads'),
    stopAfter: intFlag(v, 'stop-after'),
  };
}

export async function trainCommand(argv: string[]): Promise<number> {
  const args = parseCommand(argv, flags, help, true);
  if (!args) return 0;
  const v = args.values;
  const resume = stringFlag(v, 'resume');
  if (resume && args.positionals.length) throw new Error('--resume reads its data from the checkpoint; give no text files');

  // Ctrl-C: finish the step, save, exit. A second Ctrl-C exits at once.
  const abort = new AbortController();
  const onSigint = () => {
    if (abort.signal.aborted) process.exit(130);
    process.stderr.write('\ninterrupt: saving a checkpoint after this step (Ctrl-C again to quit without it)\n');
    abort.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    const hooks = { signal: abort.signal };
    const result = resume ? await resumeTraining(resume, resumeOverrides(v), hooks) : await train(fromFlags(v, args.positionals), hooks);
    if (result.stopped === 'aborted') process.stderr.write(`stopped at step ${result.step}; continue with: llama-ts train --resume ${result.out}\n`);
    return 0;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
