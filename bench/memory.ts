// Peak resident memory per model: llama-ts against llama.cpp (node-llama-cpp), each engine in
// a fresh child process that loads one model file, runs a ~130-token prompt and 16 greedy
// decode steps, and reports its peak RSS (VmHWM: src/io/peak-memory.ts says why not
// getrusage, whose figure a child inherits from this large parent). Issue 17 asks the bench to
// print the peak RSS per model; within one process (as bench:e2e runs both engines) the peak
// of one model cannot be told from the others'.
//
//   npm run bench:memory [-- --only 110M,q4_0] [--threads 1] [--context 256] [--out FILE]
//
// A child that starts the engine but loads no model gives each engine's baseline (Node, the
// engine's code, its threads), so "model" = peak − baseline is what the model costs: the
// weights, the KV cache of --context positions (ours F32, llama.cpp's default F16) and the
// buffers of a forward pass. llama-ts loads through loadLlama, as a user does (GGUF tensors
// read straight into WASM memory, src/backends/wasm/direct-load.ts). Writes
// bench/results/memory.json.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { peakResidentBytes } from '../src/io/peak-memory.js';
import { intFlag, listFlag, parseFlags, selects } from './lib/args.js';
import { openLlamaCpp, startLlamaCpp, theirDecodeSeconds, theirPromptSeconds } from './lib/llamacpp.js';
import { machineInfo } from './lib/machine.js';
import { BENCH_DTYPES, benchModel, loadVocabulary, SHAPE_NAMES, SHAPES, shapeSeed, writeBenchGGUF } from './lib/models.js';
import { LLAMA_TOKENIZER, RESULTS_DIR } from './lib/paths.js';

// About 130 tokens in the LLaMA vocabulary the bench models carry
const PROMPT_TEXT = 'Once upon a time, in a small village by the sea, there lived an old fisherman and his wife. '.repeat(6);
const DECODE_STEPS = 16;
const MiB = 2 ** 20;

// ---- the child: one engine, one model (or none), then its peak RSS on stdout ------------------

interface ChildArgs { engine: 'ours' | 'llamacpp'; model?: string; threads: number; context: number }

async function child(a: ChildArgs): Promise<void> {
  if (a.engine === 'ours') {
    const { createKernels, loadLlama } = await import('../src/llama.js');
    if (a.model) {
      const llama = await loadLlama({ model: a.model, threads: a.threads, contextLength: a.context });
      for await (const piece of llama.generate(PROMPT_TEXT, { maxTokens: DECODE_STEPS + 1, temperature: 0 })) void piece;
      await llama.close();
    } else {
      const kernels = (await createKernels('wasm', undefined, { threads: a.threads })) as { close?: () => Promise<void> };
      await kernels.close?.();
    }
  } else {
    const { llama } = await startLlamaCpp();
    if (a.model) {
      const e = await openLlamaCpp(llama, a.model, a.threads, a.context, a.context);
      const prompt = e.model.tokenize(PROMPT_TEXT);
      await theirPromptSeconds(e, prompt);
      await theirDecodeSeconds(e, prompt, DECODE_STEPS);
      await e.close();
    }
    await llama.dispose();
  }
  process.stdout.write(JSON.stringify({ peakRssBytes: peakResidentBytes() }) + '\n');
}

function runChild(a: ChildArgs): number {
  const script = fileURLToPath(import.meta.url);
  const out = execFileSync(process.execPath, [script, '--child', JSON.stringify(a)], { encoding: 'utf8', maxBuffer: 1 << 24 });
  const line = out.trim().split('\n').pop() ?? '';
  return (JSON.parse(line) as { peakRssBytes: number }).peakRssBytes;
}

// ---- the parent: models, children, the table ----------------------------------------------------

interface Row { shape: string; dtype: string; fileBytes: number; ours: number; llamaCpp: number; oursModel: number; llamaCppModel: number }

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') return child(JSON.parse(argv[1]) as ChildArgs);
  const flags = parseFlags(argv, ['only', 'threads', 'context', 'out'], []);
  const only = listFlag(flags, 'only', []);
  const threads = intFlag(flags, 'threads', 1, 1, 256);
  const context = intFlag(flags, 'context', 256, 160, 4096);
  const out = resolve(String(flags.get('out') ?? join(RESULTS_DIR, 'memory.json')));
  const vocabulary = loadVocabulary(LLAMA_TOKENIZER);

  const base = { threads, context };
  const baseline = { ours: runChild({ ...base, engine: 'ours' }), llamaCpp: runChild({ ...base, engine: 'llamacpp' }) };
  console.log(`baseline peak RSS (engine started, no model): llama-ts ${(baseline.ours / MiB).toFixed(1)} MiB, llama.cpp ${(baseline.llamaCpp / MiB).toFixed(1)} MiB`);

  const rows: Row[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'llama-ts-memory-'));
  try {
    for (const shape of SHAPE_NAMES) {
      const types = BENCH_DTYPES.filter((d) => selects(only, shape, d, SHAPE_NAMES, BENCH_DTYPES));
      if (types.length === 0) continue;
      const config = SHAPES[shape];
      const model = benchModel(config, shapeSeed(shape));
      for (const dtype of types) {
        const file = writeBenchGGUF(model, dtype, vocabulary, dir, shape);
        const args = { threads, context, model: file.path };
        const ours = runChild({ ...args, engine: 'ours' });
        const llamaCpp = runChild({ ...args, engine: 'llamacpp' });
        const row = { shape, dtype, fileBytes: statSync(file.path).size, ours, llamaCpp, oursModel: ours - baseline.ours, llamaCppModel: llamaCpp - baseline.llamaCpp };
        rows.push(row);
        console.log(`${shape.padEnd(5)} ${dtype.padEnd(7)} file ${(row.fileBytes / MiB).toFixed(1).padStart(7)} MiB   peak RSS: llama-ts ${(ours / MiB).toFixed(1).padStart(7)} MiB (model ${(row.oursModel / MiB).toFixed(1)}), llama.cpp ${(llamaCpp / MiB).toFixed(1).padStart(7)} MiB (model ${(row.llamaCppModel / MiB).toFixed(1)}), ratio ${(ours / llamaCpp).toFixed(2)}`);
        rmSync(file.path);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify({ schema: 'llama-ts-bench-memory/1', date: new Date().toISOString(), machine: machineInfo(), threads, context, promptText: PROMPT_TEXT, decodeSteps: DECODE_STEPS, baseline, rows }, null, 2) + '\n');
  console.log(`wrote ${out}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
