// Training throughput: tokens per second of full AdamW steps (forward, backward, clipping,
// optimizer) on the embedded model's shape, WASM SIMD kernels against PyTorch (Debian's torch,
// CPU, same shape, batch and thread count: bench/train_torch.py), measured alternately in the
// same run; optionally the TypeScript reference kernels too.
//
//   npm run bench:train [-- flags]      (bundles to build/bench/train.js)
//
//   --steps N      timed steps per run (default 5; the TypeScript kernels get at most 2)
//   --threads 1,2  thread counts, the same for both engines (default 1,2)
//   --rounds N     alternations ours/torch per thread count (default 2; the best median is kept)
//   --plain        the plain SIMD build (default: the one the library picks, relaxed SIMD
//                  with fused multiply-add where the runtime has it)
//   --ts           also time the TypeScript kernels
//   --profile      time each kernel of one WASM step
//   --shape S      v1 (default), v2, or DIM,LAYERS,HEADS,KV_HEADS,HIDDEN,VOCAB,B,T
//   --out FILE     JSON report (default bench/results/train.json; train-v2.json for --shape v2)
//
// The shapes: v1 dim 128, 4 layers, 8 heads, 4 kv heads, hidden 352, vocab 1024, B 16 × T 128
// (2048 tokens a step), ~1.0M parameters: scripts/train-default.sh's shipped model; v2 dim
// 256, 6 layers, 8/4 heads, hidden 704, vocab 1024, B 8 × T 256, ~5.0M: its PRESET=v2.
import { execFileSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LlamaConfig } from '../reference/config.js';
import { randomModel } from '../reference/init.js';
import { seededUniform } from '../reference/random.js';
import type { TrainingKernels } from '../reference/kernels.js';
import { tsTrainingKernels } from '../reference/ts-kernels.js';
import type { Batch } from '../reference/train-model.js';
import type { LlamaModel } from '../reference/weights.js';
import { createWasmTrainingKernels } from '../src/backends/wasm/training.js';
import { createTrainer, trainStep } from '../src/train/step.js';

const SHAPES: Record<string, string> = { v1: '128,4,8,4,352,1024,16,128', v2: '256,6,8,4,704,1024,8,256' };
const shapeFlag = stringFlag('--shape', 'v1'); // (a hoisted function declaration below)
const [DIM, LAYERS, HEADS, KV_HEADS, HIDDEN, VOCAB, B, T] = (SHAPES[shapeFlag] ?? shapeFlag).split(',').map(Number);
if (![DIM, LAYERS, HEADS, KV_HEADS, HIDDEN, VOCAB, B, T].every((x) => Number.isSafeInteger(x) && x > 0)) {
  throw new Error(`--shape: v1, v2 or DIM,LAYERS,HEADS,KV_HEADS,HIDDEN,VOCAB,B,T, got ${shapeFlag}`);
}
const CONFIG: LlamaConfig = {
  dim: DIM, nLayers: LAYERS, nHeads: HEADS, nKvHeads: KV_HEADS, hiddenDim: HIDDEN, vocabSize: VOCAB, maxSeqLen: T,
  normEps: 1e-5, ropeTheta: 10000, sharedClassifier: false,
};

function flag(name: string): boolean {
  return process.argv.includes(name);
}

function intFlag(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number.parseInt(process.argv[i + 1], 10) : fallback;
}

function stringFlag(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

interface TorchResult {
  torch: string;
  blas: string | null;
  threads: number;
  parameters: number;
  seconds_per_step: number;
  tokens_per_second: number;
}

// One PyTorch measurement at `threads`, same shape and batch (bench/train_torch.py).
function torchStep(threads: number, steps: number): TorchResult {
  const script = fileURLToPath(new URL('../../bench/train_torch.py', import.meta.url));
  const shape = [CONFIG.dim, CONFIG.nLayers, CONFIG.nHeads, CONFIG.nKvHeads, CONFIG.hiddenDim, CONFIG.vocabSize, B, T].join(',');
  const out = execFileSync('/usr/bin/python3', [script, '--threads', String(threads), '--steps', String(steps), '--shape', shape, '--json'], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop()!) as TorchResult;
}

function randomBatch(s: number): Batch {
  const u = seededUniform(s);
  const tokens = Array.from({ length: B * T }, () => Math.floor(u() * CONFIG.vocabSize));
  return { tokens, targets: [...tokens.slice(1), 0], B, T };
}

function parameterCount(model: LlamaModel): number {
  const w = model.weights;
  let n = w.tokenEmbedding.rows * w.tokenEmbedding.cols + w.norm.length + (w.output === w.tokenEmbedding ? 0 : w.output.rows * w.output.cols);
  for (const l of w.layers) {
    n += l.attentionNorm.length + l.ffnNorm.length;
    for (const m of [l.wq, l.wk, l.wv, l.wo, l.w1, l.w2, l.w3]) n += m.rows * m.cols;
  }
  return n;
}

// Median seconds per step over `steps` timed steps after one warm-up step.
function timeSteps(model: LlamaModel, kernels: TrainingKernels, steps: number): { seconds: number; losses: number[] } {
  const trainer = createTrainer(model, kernels);
  const losses = [trainStep(trainer, randomBatch(0), 1e-3).loss];
  const times: number[] = [];
  for (let s = 1; s <= steps; s++) {
    const start = performance.now();
    losses.push(trainStep(trainer, randomBatch(s), 1e-3).loss);
    times.push((performance.now() - start) / 1000);
  }
  times.sort((a, b) => a - b);
  return { seconds: times[Math.floor(times.length / 2)], losses };
}

// Wraps every kernel of `kernels` to add its wall time to `totals`.
function profiled(kernels: TrainingKernels, totals: Map<string, number>): TrainingKernels {
  const wrapped: Record<string, unknown> = { name: kernels.name };
  for (const key of ['matmul', 'rmsnorm', 'rope', 'attention', 'swiglu', 'matmulBackward', 'rmsnormBackward', 'ropeBackward', 'attentionBackward', 'swigluBackward'] as const) {
    const f = (kernels[key] as (...args: unknown[]) => void).bind(kernels);
    wrapped[key] = (...args: unknown[]) => {
      const start = performance.now();
      f(...args);
      totals.set(key, (totals.get(key) ?? 0) + performance.now() - start);
    };
  }
  return wrapped as unknown as TrainingKernels;
}

async function main(): Promise<void> {
  const steps = intFlag('--steps', 5);
  const rounds = intFlag('--rounds', 2);
  const threadCounts = stringFlag('--threads', '1,2').split(',').map(Number);
  const outFile = stringFlag('--out', fileURLToPath(new URL(`../../bench/results/${shapeFlag === 'v2' ? 'train-v2' : 'train'}.json`, import.meta.url)));
  const model = randomModel(CONFIG, 1);
  const params = parameterCount(model);
  const load = { before: loadavg() };
  console.log(`shape: dim ${CONFIG.dim}, ${CONFIG.nLayers} layers, ${CONFIG.nHeads}/${CONFIG.nKvHeads} heads, hidden ${CONFIG.hiddenDim}, vocab ${CONFIG.vocabSize}, B ${B} × T ${T}; ${params} parameters; load average ${load.before.map((l) => l.toFixed(2)).join(' ')}`);

  const simd = flag('--plain') ? 'plain' : 'auto';
  let build = '';
  const rows: Array<{ threads: number; oursTokensPerSecond: number; torchTokensPerSecond: number; ratio: number; torch: TorchResult }> = [];
  for (const threads of threadCounts) {
    const wasm = await createWasmTrainingKernels({ threads, simd });
    build = wasm.forward.simd === 'relaxed' ? 'relaxed SIMD' : 'SIMD';
    let ours = Infinity;
    let torch: TorchResult | undefined;
    for (let round = 0; round < rounds; round++) {
      ours = Math.min(ours, timeSteps(wasm.placeModel(randomModel(CONFIG, 1)), wasm, steps).seconds);
      const t = torchStep(threads, steps);
      if (!torch || t.seconds_per_step < torch.seconds_per_step) torch = t;
    }
    await wasm.close();
    const oursTps = (B * T) / ours;
    const row = { threads, oursTokensPerSecond: oursTps, torchTokensPerSecond: torch!.tokens_per_second, ratio: oursTps / torch!.tokens_per_second, torch: torch! };
    rows.push(row);
    console.log(`${threads} thread${threads > 1 ? 's' : ' '}: llama-ts wasm ${build} ${oursTps.toFixed(0).padStart(6)} tok/s   torch ${torch!.torch} (BLAS ${torch!.blas}) ${torch!.tokens_per_second.toFixed(0).padStart(6)} tok/s   ratio ${row.ratio.toFixed(2)}×  ${row.ratio >= 1 ? 'PASS' : 'MISS'} (target ≥ 1.0×)`);
  }

  if (flag('--profile')) {
    const wasm = await createWasmTrainingKernels({ threads: threadCounts[0], simd });
    const totals = new Map<string, number>();
    const trainer = createTrainer(wasm.placeModel(randomModel(CONFIG, 1)), profiled(wasm, totals));
    trainStep(trainer, randomBatch(0), 1e-3);
    totals.clear();
    const start = performance.now();
    trainStep(trainer, randomBatch(1), 1e-3);
    const total = performance.now() - start;
    let kernelsMs = 0;
    for (const [name, ms] of [...totals].sort((a, b) => b[1] - a[1])) {
      console.log(`  ${name.padEnd(18)} ${ms.toFixed(1).padStart(7)} ms`);
      kernelsMs += ms;
    }
    console.log(`  ${'outside kernels'.padEnd(18)} ${(total - kernelsMs).toFixed(1).padStart(7)} ms (embedding, residual adds, cross-entropy, clipping, AdamW, allocation)`);
    await wasm.close();
  }

  let tsTokensPerSecond: number | null = null;
  if (flag('--ts')) {
    const ts = timeSteps(randomModel(CONFIG, 1), tsTrainingKernels, Math.min(steps, 2));
    tsTokensPerSecond = (B * T) / ts.seconds;
    console.log(`ts kernels: ${(ts.seconds * 1000).toFixed(0)} ms/step, ${tsTokensPerSecond.toFixed(0)} tokens/s`);
  }
  const report = {
    bench: 'train', date: new Date().toISOString(), node: process.version, cpu: cpus()[0]?.model, cores: cpus().length,
    loadavg: { ...load, after: loadavg() }, shape: { ...CONFIG, B, T, parameters: params }, build, steps, rounds,
    rows, tsTokensPerSecond,
  };
  mkdirSync(dirname(outFile), { recursive: true });
  writeFileSync(outFile, JSON.stringify(report, null, 2) + '\n');
  console.log(`wrote ${outFile}`);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
