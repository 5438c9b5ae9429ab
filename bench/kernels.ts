// Kernel micro-benchmarks (benchmark.js): each heavy operation of the forward pass in the
// readable TypeScript reference, the WASM SIMD build and, when built, the relaxed-SIMD
// build, on the same inputs. Prints GFLOPS, GB/s and the speed-up over TypeScript, and
// writes bench/results/kernels.json.
//
//   npm run bench:kernels [-- --quick] [--only matmul,attention] [--types q4_0,q6_k] [--threads 1] [--out FILE]
//
// The relaxed build is timed twice for q4_0, q4_k and q6_k matmuls (and q5_k, which the cases
// leave out): with its 8-bit dot product
// kernels (the default, `wasm-relaxed`) and without (`relaxed-noi8`), and the ratio printed.
// The WASM kernels run with one thread unless --threads says otherwise: these are per-kernel
// numbers; thread scaling is measured end to end (e2e.ts).
import Benchmark from 'benchmark';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { seededNormal } from '../reference/random.js';
import type { Kernels } from '../reference/kernels.js';
import { ropeFrequencies } from '../reference/rope.js';
import type { DType, WeightTensor } from '../reference/tensor.js';
import { tsKernels } from '../reference/ts-kernels.js';
import { createWasmKernels } from '../src/backends/wasm/kernels.js';
import { MATMUL_I8 } from '../src/backends/wasm/matmul-routes.js';
import { quantize } from '../src/quant/quantize.js';
import { intFlag, listFlag, parseFlags } from './lib/args.js';
import {
  addSpeedups, ATTENTION_POSITIONS, attentionWork, MATMUL_DTYPES, MATMUL_SHAPES, MORE_MATMUL_DTYPES, MATMUL_TOKENS, matmulWork, rates,
  rmsnormWork, ropeWork, SMALL_KERNEL_DIMS, swigluWork, type KernelResult, type MatmulShape, type Work,
} from './lib/kernel-cases.js';
import { loadavg, machineInfo } from './lib/machine.js';
import { RESULTS_DIR } from './lib/paths.js';
import { relaxedVariant, simdVariant } from './lib/wasm.js';

const KERNELS = ['matmul', 'rmsnorm', 'rope', 'attention', 'swiglu'] as const;

interface Settings {
  kernels: string[];
  types: string[]; // matmul weight types
  quick: boolean;
  threads: number; // WASM kernel threads
  out: string;
}

interface Impl {
  name: string;
  kernels: Kernels;
  // An activation buffer as the model would give this backend one (WASM: a view of its memory).
  buffer(values: Float32Array): Float32Array;
}

function readSettings(argv: string[]): Settings {
  const flags = parseFlags(argv, ['only', 'types', 'out', 'threads'], ['quick']);
  const kernels = listFlag(flags, 'only', [...KERNELS]);
  for (const k of kernels) if (!(KERNELS as readonly string[]).includes(k)) throw new Error(`--only: unknown kernel "${k}" (known: ${KERNELS.join(', ')})`);
  const types = listFlag(flags, 'types', [...MATMUL_DTYPES]);
  const known: readonly string[] = [...MATMUL_DTYPES, ...MORE_MATMUL_DTYPES];
  for (const t of types) if (!known.includes(t)) throw new Error(`--types: unknown type "${t}" (known: ${known.join(', ')})`);
  return { kernels, types, quick: flags.has('quick'), threads: intFlag(flags, 'threads', 1, 1, 256), out: resolve(String(flags.get('out') ?? join(RESULTS_DIR, 'kernels.json'))) };
}

// Fresh backend instances (fresh WASM memories, so weights of earlier cases are dropped);
// closeImpls stops their worker threads.
async function makeImpls(threads: number): Promise<Impl[]> {
  const impls: Impl[] = [{ name: 'ts', kernels: tsKernels, buffer: (v) => v.slice() }];
  for (const variant of [simdVariant(), relaxedVariant()]) {
    if (!variant) continue;
    impls.push(await wasmImpl(variant.name, variant.path, threads));
    // The relaxed build's I8_DOT_TYPES matmuls run on its 8-bit dot product (i8Dot); this one
    // times the same build without it, side by side (those types only, see benchMatmul).
    if (variant.name === 'wasm-relaxed') impls.push(await wasmImpl(NO_I8_DOT, variant.path, threads, false));
  }
  return impls;
}

const NO_I8_DOT = 'relaxed-noi8';
// The types with 8-bit dot product kernels: q4_0 (qgemm.ts, qdecode.ts) and the K-quants' decoding
const I8_DOT_TYPES: readonly string[] = ['q4_0', ...Object.keys(MATMUL_I8)];

async function wasmImpl(name: string, wasmPath: string, threads: number, i8Dot?: boolean): Promise<Impl> {
  const kernels = await createWasmKernels({ wasmPath, threads, i8Dot });
  return {
    name, kernels,
    buffer: (v) => {
      const view = kernels.allocate(v.length);
      view.set(v);
      return view;
    },
  };
}

async function closeImpls(impls: Impl[]): Promise<void> {
  for (const impl of impls) await (impl.kernels as { close?: () => Promise<void> }).close?.();
}

function randomValues(n: number, seed: number, std = 1): Float32Array {
  const normal = seededNormal(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = normal() * std;
  return a;
}

// Times `fn` with benchmark.js: mean seconds per call over at least `minSamples` samples.
function measure(name: string, fn: () => void, quick: boolean): { secondsPerCall: number; rme: number; samples: number } {
  const bench = new Benchmark(name, fn, { minSamples: quick ? 2 : 4, maxTime: quick ? 0.25 : 1, initCount: 1 });
  bench.run();
  if (bench.error) throw bench.error;
  return { secondsPerCall: bench.stats.mean, rme: Math.round(bench.stats.rme * 10) / 10, samples: bench.stats.sample.length };
}

function record(results: KernelResult[], base: Omit<KernelResult, 'secondsPerCall' | 'rme' | 'samples' | 'gflops' | 'gbPerSecond'>, work: Work, fn: () => void, quick: boolean): void {
  const m = measure(`${base.kernel} ${base.shape} ${base.dtype ?? ''} ${base.impl}`, fn, quick);
  const r: KernelResult = { ...base, ...m, ...rates(work, m.secondsPerCall) };
  results.push(r);
  process.stdout.write(`  ${line(r)}\n`);
}

function line(r: KernelResult): string {
  return [
    r.kernel.padEnd(9), r.shape.padEnd(18), (r.dtype ?? '').padEnd(5), r.impl.padEnd(12),
    `${(r.secondsPerCall * 1e3).toFixed(3).padStart(10)} ms`, `${r.gflops.toFixed(2).padStart(8)} GFLOPS`,
    `${r.gbPerSecond.toFixed(2).padStart(7)} GB/s`, `±${r.rme}%`,
  ].join(' ');
}

async function benchMatmul(results: KernelResult[], shape: MatmulShape, s: Settings): Promise<void> {
  const quick = s.quick;
  const impls = await makeImpls(s.threads);
  const values = randomValues(shape.N * shape.K, shape.N ^ shape.K, 0.02); // [N, K]
  for (const dtype of s.types as DType[]) {
    if (dtype.endsWith('_k') && shape.K % 256 !== 0) continue;
    const w: WeightTensor = quantize(values, shape.N, shape.K, dtype as DType);
    for (const T of MATMUL_TOKENS) {
      const work = matmulWork(shape, dtype, T);
      const x = randomValues(T * shape.K, T); // [T, K]
      for (const impl of impls) {
        if (impl.name === NO_I8_DOT && !I8_DOT_TYPES.includes(dtype)) continue;
        // The TS reference on the largest matrix takes up to seconds a call: skipped when quick.
        if (quick && impl.name === 'ts' && work.bytes > 2e7 * (dtype === 'f32' ? 4 : 1)) continue;
        const out = new Float32Array(T * shape.N); // [T, N]
        const xb = impl.buffer(x);
        impl.kernels.matmul(out, xb, w, T); // uploads the weight into WASM memory, untimed
        record(results, { kernel: 'matmul', shape: `${shape.name} T=${T}`, dtype, impl: impl.name }, work, () => impl.kernels.matmul(out, xb, w, T), quick);
      }
    }
  }
  await closeImpls(impls);
}

async function benchElementwise(results: KernelResult[], s: Settings): Promise<void> {
  const { kernels, quick } = s;
  const impls = await makeImpls(s.threads);
  const { T, C, nHeads, hd, hidden } = SMALL_KERNEL_DIMS;
  for (const impl of impls) {
    if (impl.name === NO_I8_DOT) continue; // the same elementwise kernels as wasm-relaxed
    if (kernels.includes('rmsnorm')) {
      const x = impl.buffer(randomValues(T * C, 1)); // [T, C]
      const gain = impl.buffer(randomValues(C, 2)); // [C]
      const out = impl.buffer(new Float32Array(T * C)); // [T, C]
      record(results, { kernel: 'rmsnorm', shape: `T=${T} C=${C}`, impl: impl.name }, rmsnormWork(T, C),
        () => impl.kernels.rmsnorm(out, x, gain, T, C, 1e-5), quick);
    }
    if (kernels.includes('rope')) {
      const q = impl.buffer(randomValues(T * nHeads * hd, 3)); // [T, nHeads*hd], rotated in place each call
      const freqs = ropeFrequencies(hd, 10000); // [hd/2]
      record(results, { kernel: 'rope', shape: `T=${T} ${nHeads}x${hd}`, impl: impl.name }, ropeWork(T, nHeads, hd),
        () => impl.kernels.rope(q, T, nHeads, hd, 100, freqs), quick);
    }
    if (kernels.includes('swiglu')) {
      const n = T * hidden;
      const gate = impl.buffer(randomValues(n, 4)); // [T, H]
      const up = impl.buffer(randomValues(n, 5)); // [T, H]
      const out = impl.buffer(new Float32Array(n)); // [T, H]
      record(results, { kernel: 'swiglu', shape: `n=${n}`, impl: impl.name }, swigluWork(n),
        () => impl.kernels.swiglu(out, gate, up, n), quick);
    }
    if (kernels.includes('attention')) {
      for (const S of ATTENTION_POSITIONS) {
        const dim = nHeads * hd;
        const q = impl.buffer(randomValues(dim, 6)); // [1, nHeads*hd]: one decode query
        const k = impl.buffer(randomValues(S * dim, 7)); // [S, nKvHeads*hd]
        const v = impl.buffer(randomValues(S * dim, 8)); // [S, nKvHeads*hd]
        const out = impl.buffer(new Float32Array(dim)); // [1, nHeads*hd]
        record(results, { kernel: 'attention', shape: `S=${S} ${nHeads}x${hd}`, impl: impl.name }, attentionWork(S, nHeads, nHeads, hd),
          () => impl.kernels.attention(out, q, k, v, 1, S - 1, nHeads, nHeads, hd), quick);
      }
    }
  }
  await closeImpls(impls);
}

async function main(): Promise<void> {
  const s = readSettings(process.argv.slice(2));
  const machine = machineInfo();
  process.stdout.write(`llama-ts kernel bench: ${machine.cpuModel}, ${machine.cores} cores, node ${machine.node}, load ${machine.loadavgBefore.join(' ')}\n`);
  const results: KernelResult[] = [];
  if (s.kernels.includes('matmul')) for (const shape of MATMUL_SHAPES) await benchMatmul(results, shape, s);
  if (s.kernels.some((k) => k !== 'matmul')) await benchElementwise(results, s);
  addSpeedups(results);
  machine.loadavgAfter = loadavg();

  process.stdout.write('\nspeed-up over the TypeScript reference (same case):\n');
  for (const r of results) if (r.speedupOverTs !== undefined) process.stdout.write(`  ${r.kernel.padEnd(9)} ${r.shape.padEnd(18)} ${(r.dtype ?? '').padEnd(5)} ${r.impl.padEnd(12)} ×${r.speedupOverTs}\n`);
  const noI8 = results.filter((r) => r.impl === NO_I8_DOT);
  if (noI8.length > 0) process.stdout.write('\nrelaxed SIMD: the 8-bit dot product kernels (wasm-relaxed) over the others (relaxed-noi8), speed-up:\n');
  for (const r of noI8) {
    const i8 = results.find((o) => o.impl === 'wasm-relaxed' && o.kernel === r.kernel && o.shape === r.shape && o.dtype === r.dtype);
    if (i8) process.stdout.write(`  ${r.shape.padEnd(18)} ${(r.dtype ?? '').padEnd(5)} ×${(r.secondsPerCall / i8.secondsPerCall).toFixed(2)}\n`);
  }
  const report = {
    schema: 'llama-ts-bench-kernels/1',
    date: new Date().toISOString(),
    machine,
    settings: { quick: s.quick, kernels: s.kernels, threads: s.threads, impls: [...new Set(results.map((r) => r.impl))] },
    results,
  };
  mkdirSync(dirname(s.out), { recursive: true });
  writeFileSync(s.out, JSON.stringify(report, null, 2) + '\n');
  process.stdout.write(`load average before ${machine.loadavgBefore.join(' ')}, after ${machine.loadavgAfter.join(' ')}\nwrote ${s.out}\n`);
}

main().then(() => process.exit(0), (error: Error) => {
  process.stderr.write(`bench:kernels: ${error.stack ?? error.message}\n`);
  process.exit(1);
});
