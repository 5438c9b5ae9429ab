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
// llama-ts quantize, on models/tasks/kjv-heldout.txt with context 128; then random models of
// llama2.c's 15M and 110M shapes (bench/lib/models.ts, the LLaMA tokenizer) in F32 and Q4_0
// (--shapes, default 15M,110M; --shapes none skips them); or --model/--file.
// Items: the first --items (default 20) items of kjv-cloze-heldout scored by llama-ts's evaluateTask (each item's
// context once, its choices continuing from the cache) and by llama.cpp from the same token
// sequences (each choice a sequence of its own, as llama.cpp has no cache copy), items/s.
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
import { benchModel as randomShapeModel, loadVocabulary, SHAPES, shapeSeed, writeBenchGGUF, type ShapeName } from './lib/models.js';
import { tokenizeRequest } from '../src/eval/likelihood.js';
import { loadavg, machineInfo } from './lib/machine.js';
import { LLAMA_TOKENIZER, RESULTS_DIR, ROOT } from './lib/paths.js';
import { median, seconds } from './lib/stats.js';

const flags = parseFlags(process.argv.slice(2), ['chunks', 'reps', 'threads', 'model', 'file', 'context', 'out', 'shapes', 'items'], []);
const shapes = String(flags.get('shapes') ?? '15M,110M').split(',').filter((x) => x !== 'none') as ShapeName[];
const ITEMS = intFlag(flags, 'items', 20, 1, 100000); // multiple-choice items timed per model
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
  items: { task: string; ours: number; llamaCpp: number; ratio: number }; // items/s
}

async function benchModel(path: string, text: string, llama: Awaited<ReturnType<typeof startLlamaCpp>>['llama']): Promise<Row> {
  const ev = await loadEvaluator({ model: path, contextLength: context, threads });
  const plan: ChunkPlan = planChunks(tokenizeForPerplexity(ev, text), context, chunks, textFile);
  const inputs = Array.from({ length: plan.chunks }, (_, i) => chunkInput(plan, i, ev.tokenizer.vocab.bosId) as Token[]);
  const theirs = await openLlamaCpp(llama, path, threads, context, context);
  const ourRuns: number[] = [], theirRuns: number[] = [];
  let ppl = 0;
  let items: Row['items'] = { task: '', ours: 0, llamaCpp: 0, ratio: 0 };
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
    items = await benchItems(ev, theirs.sequence);
  } finally {
    await theirs.close();
    await ev.close();
  }
  const ours = median(ourRuns), llamaCpp = median(theirRuns);
  const row = { model: basename(path), context, chunks: plan.chunks, perplexity: ppl, ours: { tokensPerSecond: ours, runs: ourRuns }, llamaCpp: { tokensPerSecond: llamaCpp, runs: theirRuns }, ratio: ours / llamaCpp, items };
  console.log(`${row.model.padEnd(24)} PPL ${ppl.toFixed(4)}  llama-ts ${ours.toFixed(0)} tok/s  llama.cpp ${llamaCpp.toFixed(0)} tok/s  ${row.ratio.toFixed(2)}×` +
    `  |  ${items.task}: ${items.ours.toFixed(1)} vs ${items.llamaCpp.toFixed(1)} items/s, ${items.ratio.toFixed(2)}×`);
  return row;
}

// Items/s on the first ITEMS items of kjv-cloze-heldout, medians over reps: ours with
// evaluateTask (the context once an item, each choice continuing from the cache, then the
// scoring), llama.cpp with one llama_decode per choice of the same token sequences
// (evaluateWithoutGeneratingNewTokens: the model's work without reading any row's
// probabilities back, so an upper bound on its speed, as for perplexity above).
async function benchItems(ev: Awaited<ReturnType<typeof loadEvaluator>>, sequence: Awaited<ReturnType<typeof openLlamaCpp>>['sequence']): Promise<Row['items']> {
  const name = 'kjv-cloze-heldout';
  const task = readTask(join(ROOT, `models/tasks/${name}.jsonl`));
  const items = task.items.slice(0, ITEMS);
  const requests = items.flatMap((item) => item.requests.map((r) => tokenizeRequest(ev, r, name)));
  const ours: number[] = [], theirs: number[] = [];
  for (let r = 0; r < reps; r++) {
    await settle();
    ours.push(items.length / evaluateTask(ev, task, { limit: ITEMS }).seconds);
    await settle();
    const t0 = seconds();
    for (const q of requests) {
      await sequence.clearHistory();
      await sequence.evaluateWithoutGeneratingNewTokens([...q.context, ...q.continuation].slice(-context) as Token[]);
    }
    theirs.push(items.length / (seconds() - t0));
  }
  const a = median(ours), b = median(theirs);
  return { task: `${name} (${items.length} items)`, ours: a, llamaCpp: b, ratio: a / b };
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
    if (!model && shapes.length) {
      const vocabulary = loadVocabulary(LLAMA_TOKENIZER);
      for (const shape of shapes) {
        const random = randomShapeModel(SHAPES[shape], shapeSeed(shape));
        for (const type of ['f32', 'q4_0'] as const) models.push(writeBenchGGUF(random, type, vocabulary, dir, shape).path);
      }
    }
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
