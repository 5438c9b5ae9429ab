import type { SimdChoice } from '../backends/wasm/module.js';
import type { Scoring } from '../eval/multiple-choice.js';
import { formatEval } from '../eval/report.js';
import { evaluateTaskFiles } from '../eval/run-eval.js';
import { loadEvaluator, parseBackend } from '../llama.js';
import { intFlag, parseCommand, stringFlag } from './options.js';

const help = `usage: llama-ts eval [--model FILE] --task FILE.jsonl [--task ...] [options]

Multiple-choice tasks scored by likelihood, as lm-evaluation-harness does: each choice's
log-likelihood is the sum over its continuation's tokens (" " + choice) given the context.
acc takes the largest sum, acc_norm the largest sum per character of the choice, acc_bytes
per UTF-8 byte. Reads HellaSwag, PIQA, ARC, OpenBookQA, BoolQ, WinoGrande (partial scoring:
each option completes the sentence up to "_", the rest of the sentence is scored) and
generic {context, choices, answer} lines. Standard errors are stddev/√n.

  --model FILE          GGUF, llama2.c checkpoint or Hugging Face folder (default: the embedded model)
  --tokenizer FILE      tokenizer, for llama2.c checkpoints
  --task FILE           a JSON Lines task file (may be repeated)
  --shots K             K solved examples before each item (default 0)
  --shots-file FILE     draw the shots from this file (default: the task's other items)
  --seed S              seed for drawing shots (default 1234)
  --scoring NAME        harness (default) or paper: also acc_paper, the LLaMA paper's rule
                        (acc_norm, but BoolQ and OpenBookQA by P(choice|context)/P(choice|"Answer:"))
  --limit N             the first N items of each task only
  --context N           positions the model may see; longer contexts are cut from the left
                        (default: the model's context, at most 4096)
  --no-reuse            run every choice from position 0 instead of continuing the cached
                        context (the same scores; to measure what the reuse saves)
  --json                print one JSON object instead of the table
  --backend NAME        wasm (SIMD, default) or ts (the readable reference)
  --threads N           wasm kernel threads (default: the number of CPUs)
  --simd BUILD          wasm kernels: relaxed, plain or auto (default)
`;

export async function evalCommand(argv: string[]): Promise<number> {
  const args = parseCommand(argv, {
    model: { type: 'string' }, tokenizer: { type: 'string' }, task: { type: 'string', multiple: true }, shots: { type: 'string' },
    'shots-file': { type: 'string' }, seed: { type: 'string' }, scoring: { type: 'string' }, limit: { type: 'string' },
    context: { type: 'string' }, 'no-reuse': { type: 'boolean' }, json: { type: 'boolean' },
    backend: { type: 'string' }, threads: { type: 'string' }, simd: { type: 'string' },
  }, help);
  if (!args) return 0;
  const v = args.values;
  const tasks = (v.task as unknown as string[] | undefined) ?? [];
  if (tasks.length === 0) throw new Error('eval needs at least one --task FILE.jsonl (see llama-ts eval --help)');
  const scoring = stringFlag(v, 'scoring') ?? 'harness';
  if (scoring !== 'harness' && scoring !== 'paper') throw new Error(`--scoring must be harness or paper, got "${scoring}"`);
  const limit = intFlag(v, 'limit');
  if (limit !== undefined && limit < 1) throw new Error(`--limit must be a positive integer, got ${limit}`);
  const ev = await loadEvaluator({
    model: stringFlag(v, 'model'), tokenizer: stringFlag(v, 'tokenizer'), contextLength: intFlag(v, 'context'),
    backend: parseBackend(stringFlag(v, 'backend')), threads: intFlag(v, 'threads'), simd: stringFlag(v, 'simd') as SimdChoice | undefined,
  });
  try {
    const results = evaluateTaskFiles(ev, tasks, {
      shots: intFlag(v, 'shots'), shotsFile: stringFlag(v, 'shots-file'), seed: intFlag(v, 'seed'), scoring: scoring as Scoring,
      limit, reuseContext: v['no-reuse'] !== true,
      onItem: process.stderr.isTTY ? (done, total) => process.stderr.write(`\r${done}/${total} items${done === total ? '\n' : ''}`) : undefined,
    });
    process.stdout.write(v.json === true ? JSON.stringify({ model: ev.modelName, tasks: results }) + '\n' : formatEval(results, ev.modelName));
    return 0;
  } finally {
    await ev.close();
  }
}
