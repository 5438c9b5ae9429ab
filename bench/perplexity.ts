// Perplexity speed: llama-ts's evaluator against llama.cpp (node-llama-cpp) on the same GGUF
// and the same chunks, in one run; and what reusing each item's cached context saves in a
// multiple-choice task. Writes bench/results/perplexity.json.
//
//   ours      perplexityOfPlan: each chunk one forward call from position 0 (logits for all
//             N rows), then log-softmax of the second half's rows in JavaScript
//   llama.cpp the same chunk through one llama_decode (evaluateWithoutGeneratingNewTokens,
//             logits of the last row only): the model's work without the per-row logits and
//             softmax that llama-perplexity adds, so an upper bound on its perplexity speed
//
// Models: the default model (models/kjv.gguf) as F32 and quantized to Q8_0 and Q4_0 by
// llama-ts quantize, on models/tasks/kjv-heldout.txt with context 128; or --model/--file.
// Each engine alternates --reps times (median), every timed run after a 200 ms pause.
//
// usage: npm run bench:perplexity -- [--chunks 16] [--reps 3] [--threads 1] [--model FILE --file TEXT --context N] [--out FILE]
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import type { Token } from 'node-llama-cpp';
import { chunkInput, planChunks, type ChunkPlan } from '../src/eval/chunks.js';
import { loadEvaluator } from '../src/llama.js';
import { evaluateTask } from '../src/eval/multiple-choice.js';
import { perplexityOfPlan, tokenizeForPerplexity } from '../src/eval/perplexity.js';
import { readTask } from '../src/eval/run-eval.js';
import { quantizeFile } from '../src/convert/quantize-file.js';
import { intFlag, parseFlags } from './lib/args.js';
import { openLlamaCpp, startLlamaCpp } from './lib/llamacpp.js';
import { loadavg, machineInfo } from './lib/machine.js';
import { RESULTS_DIR, ROOT } from './lib/paths.js';
import { median, seconds } from './lib/stats.js';

const flags = parseFlags(process.argv.slice(2), ['chunks', 'reps', 'threads', 'model', 'file', 'context', 'out'], []);
const chunks = intFlag(flags, 'chunks', 16, 1, 100000);
const reps = intFlag(flags, 'reps', 3, 1, 50);
const threads = intFlag(flags, 'threads', 1, 1, 256);
const context = intFlag(flags, 'context', 128, 4, 1 << 20);
const textFile = resolve(String(flags.get('file') ?? join(ROOT, 'models/tasks/kjv-heldout.txt')));
const out = resolve(String(flags.get('out') ?? join(RESULTS_DIR, 'perplexity.json')));
const settle = () => new Promise((r) => setTimeout(r, 200));

interface Row {
  model: string;
  context: number;
  chunks: number;
  perplexity: number;
  ours: { tokensPerSecond: number; runs: number[] };
  llamaCpp: { tokensPerSecond: number; runs: number[] };
  ratio: number; // ours ÷ llama.cpp
}

async function benchModel(path: string, text: string, llama: Awaited<ReturnType<typeof startLlamaCpp>>['llama']): Promise<Row> {
  const ev = await loadEvaluator({ model: path, contextLength: context, threads });
  const plan: ChunkPlan = planChunks(tokenizeForPerplexity(ev, text), context, chunks, textFile);
  const inputs = Array.from({ length: plan.chunks }, (_, i) => chunkInput(plan, i, ev.tokenizer.vocab.bosId) as Token[]);
  const theirs = await openLlamaCpp(llama, path, threads, context, context);
  const ourRuns: number[] = [], theirRuns: number[] = [];
  let ppl = 0;
  try {
    for (let r = 0; r < reps; r++) {
      await settle();
      const result = perplexityOfPlan(ev, plan);
      ppl = result.perplexity;
      ourRuns.push(result.tokensPerSecond);
      await settle();
      const t0 = seconds();
      for (const input of inputs) {
        await theirs.sequence.clearHistory();
        await theirs.sequence.evaluateWithoutGeneratingNewTokens(input);
      }
      theirRuns.push((plan.chunks * context) / (seconds() - t0));
    }
  } finally {
    await theirs.close();
    await ev.close();
  }
  const ours = median(ourRuns), llamaCpp = median(theirRuns);
  const row = { model: basename(path), context, chunks: plan.chunks, perplexity: ppl, ours: { tokensPerSecond: ours, runs: ourRuns }, llamaCpp: { tokensPerSecond: llamaCpp, runs: theirRuns }, ratio: ours / llamaCpp };
  console.log(`${row.model.padEnd(20)} PPL ${ppl.toFixed(4)}  llama-ts ${ours.toFixed(0)} tok/s  llama.cpp ${llamaCpp.toFixed(0)} tok/s  ${row.ratio.toFixed(2)}×`);
  return row;
}

// Multiple-choice items scored continuing each item's cached context, and from position 0:
// short contexts (kjv-grammar, ~10 tokens) and long ones (kjv-cloze-heldout, ~100).
async function benchReuse(): Promise<Record<string, unknown>[]> {
  const ev = await loadEvaluator({ threads });
  const rows: Record<string, unknown>[] = [];
  try {
    for (const name of ['kjv-grammar', 'kjv-cloze-heldout']) {
      const task = readTask(join(ROOT, `models/tasks/${name}.jsonl`));
      const runs = { reuse: [] as number[], scratch: [] as number[] };
      let tokens = { reuse: 0, scratch: 0 };
      for (let r = 0; r < reps; r++) {
        await settle();
        const a = evaluateTask(ev, task, { limit: 50 });
        runs.reuse.push(a.seconds);
        await settle();
        const b = evaluateTask(ev, task, { limit: 50, reuseContext: false });
        runs.scratch.push(b.seconds);
        tokens = { reuse: a.tokensRun, scratch: b.tokensRun };
      }
      const row = { task: `${name} (50 items)`, tokens, seconds: { reuse: median(runs.reuse), scratch: median(runs.scratch) }, runs };
      console.log(`${row.task}: context reused ${tokens.reuse} tokens in ${row.seconds.reuse.toFixed(2)} s, from scratch ${tokens.scratch} in ${row.seconds.scratch.toFixed(2)} s`);
      rows.push(row);
    }
    return rows;
  } finally {
    await ev.close();
  }
}

async function main(): Promise<void> {
  const machine = machineInfo();
  const text = readFileSync(textFile, 'utf8');
  const { llama, info } = await startLlamaCpp();
  const dir = mkdtempSync(join(tmpdir(), 'bench-ppl-'));
  const rows: Row[] = [];
  try {
    const model = flags.get('model');
    const models = model ? [resolve(String(model))] : [join(ROOT, 'models/kjv.gguf'), join(dir, 'kjv-q8_0.gguf'), join(dir, 'kjv-q4_0.gguf')];
    if (!model) for (const type of ['q8_0', 'q4_0'] as const) quantizeFile(models[0], join(dir, `kjv-${type}.gguf`), { type });
    for (const path of models) rows.push(await benchModel(path, text, llama));
    const reuse = model ? null : await benchReuse();
    machine.loadavgAfter = loadavg();
    mkdirSync(RESULTS_DIR, { recursive: true });
    writeFileSync(out, JSON.stringify({ machine, llamaCpp: info, threads, reps, text: basename(textFile), rows, reuse }, null, 2) + '\n');
    console.log(`wrote ${out}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await llama.dispose();
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
