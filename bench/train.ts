// Training throughput: tokens per second of full AdamW steps (forward, backward, clipping,
// optimizer) on a small LLaMA, TypeScript kernels against WASM SIMD kernels.
//
//   npx esbuild bench/train.ts --bundle --platform=node --format=esm --outfile=build/bench/train.mjs \
//     && cp build/kernels*.wasm build/wasm-worker.mjs build/bench/ && node build/bench/train.mjs [flags]
//
//   --steps N      timed steps per run (default 5; the TypeScript kernels get at most 2)
//   --threads N    threads the WASM matrix products are split across (default 1)
//   --relaxed      the relaxed-SIMD build (fused multiply-add); Node 20 needs
//                  `node --experimental-wasm-relaxed-simd build/bench/train.mjs --relaxed`
//   --no-ts        skip the TypeScript kernels
//   --profile      time each kernel of one WASM step
//
// Parameters placed in WASM memory (placeModel) and
// parameters copied in per call are timed alternately, twice each, best median kept: the
// machine is shared, and the order should not favour either.
//
// The shape: dim 128, 4 layers, 8 heads, hidden 344, vocab 512, B 8 × T 128 (1024 tokens a
// step), ~0.85M parameters. bench/train_torch.py runs the same step in PyTorch.
import { fileURLToPath } from 'node:url';
import type { LlamaConfig } from '../reference/config.js';
import { randomModel, seededUniform } from '../reference/init.js';
import type { TrainingKernels } from '../reference/kernels.js';
import { tsTrainingKernels } from '../reference/ts-kernels.js';
import type { Batch } from '../reference/train-model.js';
import type { LlamaModel } from '../reference/weights.js';
import { createWasmTrainingKernels } from '../src/backends/wasm/training.js';
import { createTrainer, trainStep } from '../src/train/step.js';

const CONFIG: LlamaConfig = {
  dim: 128, nLayers: 4, nHeads: 8, nKvHeads: 8, hiddenDim: 344, vocabSize: 512, maxSeqLen: 128,
  normEps: 1e-5, ropeTheta: 10000, sharedClassifier: false,
};
const B = 8;
const T = 128;

function flag(name: string): boolean {
  return process.argv.includes(name);
}

function intFlag(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number.parseInt(process.argv[i + 1], 10) : fallback;
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
  const model = randomModel(CONFIG, 1);
  console.log(`shape: dim ${CONFIG.dim}, ${CONFIG.nLayers} layers, ${CONFIG.nHeads} heads, hidden ${CONFIG.hiddenDim}, vocab ${CONFIG.vocabSize}, B ${B} × T ${T}; ${parameterCount(model)} parameters`);

  const wasmPath = flag('--relaxed') ? fileURLToPath(new URL('./kernels-relaxed.wasm', import.meta.url)) : undefined;
  const threads = intFlag('--threads', 1);
  const wasm = await createWasmTrainingKernels({ threads, wasmPath });
  const build = wasmPath ? 'relaxed SIMD' : 'SIMD';
  let placed = Infinity;
  let copied = Infinity;
  for (let round = 0; round < 2; round++) {
    placed = Math.min(placed, timeSteps(wasm.placeModel(randomModel(CONFIG, 1)), wasm, steps).seconds);
    copied = Math.min(copied, timeSteps(randomModel(CONFIG, 1), wasm, steps).seconds);
  }
  const report = (what: string, seconds: number) => console.log(`wasm ${build}, ${threads} thread${threads > 1 ? 's' : ''}, ${what}: ${(seconds * 1000).toFixed(0)} ms/step, ${((B * T) / seconds).toFixed(0)} tokens/s`);
  report('parameters in WASM memory', placed);
  report('parameters copied per call', copied);

  if (flag('--profile')) {
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
  }
  await wasm.close();

  if (!flag('--no-ts')) {
    const ts = timeSteps(randomModel(CONFIG, 1), tsTrainingKernels, Math.min(steps, 2));
    console.log(`ts kernels: ${(ts.seconds * 1000).toFixed(0)} ms/step, ${((B * T) / ts.seconds).toFixed(0)} tokens/s; losses ${ts.losses.map((l) => l.toFixed(3)).join(' ')}`);
    console.log(`speed-up wasm/ts: ${(ts.seconds / Math.min(placed, copied)).toFixed(1)}×`);
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
