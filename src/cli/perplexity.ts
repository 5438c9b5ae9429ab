import { readFileSync } from 'node:fs';
import type { SimdChoice } from '../backends/wasm/module.js';
import { planChunks } from '../eval/chunks.js';
import { klDivergence, planFromBase } from '../eval/kl-divergence.js';
import { LogitsReader, LogitsWriter, logitsHeaderFor } from '../eval/logits-file.js';
import { perplexityOfPlan, tokenizeForPerplexity, type ChunkProgress } from '../eval/perplexity.js';
import { formatKlDivergence, formatPerplexity, formatProgress } from '../eval/report.js';
import { loadEvaluator, parseBackend } from '../llama.js';
import { intFlag, parseCommand, stringFlag } from './options.js';

const help = `usage: llama-ts perplexity [--model FILE] --file TEXT [--context N] [options]

Perplexity as llama.cpp's llama-perplexity computes it: the text tokenized once (BOS first),
cut into non-overlapping chunks of N tokens, each run from position 0 with BOS as its first
token, and only the second half of each chunk scored. Prints the running perplexity after
each chunk and the final value ± its standard error; a progress bar on stderr (a terminal).

  --model FILE          GGUF, llama2.c checkpoint or Hugging Face folder (default: the embedded model)
  --tokenizer FILE      tokenizer, for llama2.c checkpoints
  --file TEXT           the text to score (UTF-8)
  --context N           tokens per chunk (default: the model's context, at most 4096; with
                        --kl-divergence, the base run's)
  --chunks N            score at most N chunks
  --save-logits FILE    also write every scored position's log-probabilities (F16, all tokens)
                        for a later --kl-divergence run of another model over the same text
  --kl-divergence FILE  compare this model with the base run saved in FILE: KL divergence
                        (mean, median, percentiles), same top token, perplexity ratio
  --json                print one JSON object instead of the text report
  --backend NAME        wasm (SIMD, default) or ts (the readable reference)
  --threads N           wasm kernel threads (default: the number of CPUs)
  --simd BUILD          wasm kernels: relaxed, plain or auto (default)
`;

export async function perplexityCommand(argv: string[]): Promise<number> {
  const args = parseCommand(argv, {
    model: { type: 'string' }, tokenizer: { type: 'string' }, file: { type: 'string' }, context: { type: 'string' },
    chunks: { type: 'string' }, 'save-logits': { type: 'string' }, 'kl-divergence': { type: 'string' }, json: { type: 'boolean' },
    backend: { type: 'string' }, threads: { type: 'string' }, simd: { type: 'string' },
  }, help);
  if (!args) return 0;
  const v = args.values;
  const file = stringFlag(v, 'file');
  if (!file) throw new Error('perplexity needs --file TEXT (see llama-ts perplexity --help)');
  const saveLogits = stringFlag(v, 'save-logits');
  const klFile = stringFlag(v, 'kl-divergence');
  if (saveLogits && klFile) throw new Error('--save-logits and --kl-divergence are two separate runs: the base model saves, the other compares');
  const text = readFileSync(file, 'utf8');
  const base = klFile ? new LogitsReader(klFile) : undefined;
  let context = intFlag(v, 'context');
  if (base && context !== undefined && context !== base.header.context) {
    throw new Error(`--context ${context} differs from the base run's context of ${base.header.context} in ${klFile}`);
  }
  if (base && intFlag(v, 'chunks') !== undefined) throw new Error(`--chunks does not apply to --kl-divergence: the chunks are those of the base run in ${klFile}`);
  context ??= base?.header.context;

  const ev = await loadEvaluator({
    model: stringFlag(v, 'model'), tokenizer: stringFlag(v, 'tokenizer'), contextLength: context,
    backend: parseBackend(stringFlag(v, 'backend')), threads: intFlag(v, 'threads'), simd: stringFlag(v, 'simd') as SimdChoice | undefined,
  });
  const json = v.json === true;
  const onChunk = process.stderr.isTTY ? (p: ChunkProgress) => process.stderr.write(`\r${formatProgress(p)}${p.chunk === p.chunks ? '\n' : ''}`) : undefined;
  try {
    if (base) {
      const result = klDivergence(ev, planFromBase(ev, text, base, file), base, onChunk);
      base.close();
      process.stdout.write(json ? JSON.stringify(result) + '\n' : formatKlDivergence(result));
      return 0;
    }
    const plan = planChunks(tokenizeForPerplexity(ev, text), context ?? ev.cache.capacity, intFlag(v, 'chunks'), file);
    const writer = saveLogits ? new LogitsWriter(saveLogits, logitsHeaderFor(plan, ev.modelName, ev.model.config.vocabSize), plan.tokens.slice(0, plan.chunks * plan.context)) : undefined;
    const result = perplexityOfPlan(ev, plan, { onChunk, onScoredRow: writer && ((row, target) => writer.writeRow(row, target)) });
    writer?.close();
    process.stdout.write(json ? JSON.stringify(result) + '\n' : formatPerplexity(result));
    if (writer && !json) process.stderr.write(`saved the log-probabilities of ${result.scored} positions to ${saveLogits}\n`);
    return 0;
  } finally {
    await ev.close();
  }
}
