// Decode kernels against native code on the same matrices, one thread: issue 17's "measured
// kernel against a native C kernel of the same algorithm". For each weight type and matrix
// shape, one matrix-vector product (the activation's quantization included) is timed in:
//
//   wasm         llama-ts's relaxed-SIMD build in V8 (the kernel the backend runs for T = 1)
//   c-ours       the same q4_0 algorithm in C with 128-bit SSE intrinsics (bench/native/vecdot.c),
//                which must give the WASM kernel's output bit for bit (checked: it is the proof
//                that it is the same algorithm)
//   sandybridge  llama.cpp's own row dot product from the CPU variants node-llama-cpp ships:
//   haswell      AVX (integer SIMD 128-bit, as WASM's), AVX2 (256-bit) and AVX-512 (zen4, the
//   zen4         one llama.cpp loads on this machine), called once per row as ggml does
//
// Rounds interleave the implementations; the least time of each over all tries is kept.
// Prints GFLOPS and wasm ÷ each, writes bench/results/native.json. Needs gcc.
//
//   npm run bench:native [-- --types q4_0,q4_k] [--shapes 2048x2048] [--rounds 3] [--tries 15] [--out FILE]
//
// What it cannot see: llama.cpp's Q4_0 decode actually runs a GEMV over weights repacked at
// load (eight rows interleaved), not this row dot; `bench:e2e` measures that end to end.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { seededNormal } from '../reference/random.js';
import type { DType } from '../reference/tensor.js';
import { createWasmKernels } from '../src/backends/wasm/kernels.js';
import { quantize } from '../src/quant/quantize.js';
import { intFlag, listFlag, parseFlags } from './lib/args.js';
import { machineInfo } from './lib/machine.js';
import { RESULTS_DIR, ROOT } from './lib/paths.js';
import { relaxedVariant } from './lib/wasm.js';

const TYPES = ['q4_0', 'q8_0', 'q4_k', 'q5_k', 'q6_k', 'q4_1', 'q5_0', 'q5_1', 'iq4_nl', 'q2_k', 'q3_k'];
// [N, K]: a square matrix that stays in cache, and LLaMA-7B's feed-forward up and down
const SHAPES = ['2048x2048', '11008x4096', '4096x11008'];
const VARIANTS = ['sandybridge', 'haswell', 'zen4'] as const;
const SOURCE = join(ROOT, 'bench', 'native', 'vecdot.c');
const BINARY = join(ROOT, 'build', 'bench', 'vecdot');
const LIBS = join(ROOT, 'node_modules', '@node-llama-cpp', 'linux-x64', 'bins', 'linux-x64');

interface Timing { impl: string; ms: number; gflops: number; maxRelDiff: number }
interface Case { type: string; shape: string; N: number; K: number; timings: Timing[] }

// Built on every run (a second): -mavx2 -mfma give the VEX encodings V8 also uses on this CPU
// and its FMA; the intrinsics themselves are all 128-bit
function buildNative(): void {
  mkdirSync(dirname(BINARY), { recursive: true });
  execFileSync('gcc', ['-O3', '-mavx2', '-mfma', '-Wall', '-o', BINARY, SOURCE, '-ldl'], { stdio: 'inherit' });
}

function randomValues(n: number, seed: number, std = 1): Float32Array {
  const normal = seededNormal(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = normal() * std;
  return a;
}

function runNative(args: string[]): { ms: number; out: Float32Array } {
  const text = execFileSync(BINARY, args, { env: { ...process.env, LD_LIBRARY_PATH: LIBS }, maxBuffer: 1 << 28 }).toString();
  const parsed = JSON.parse(text) as { ms: number; out: number[] };
  return { ms: parsed.ms, out: Float32Array.from(parsed.out) };
}

// max |a − b| over max |b|
function relDiff(a: Float32Array, b: Float32Array): number {
  let diff = 0, scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}

async function benchCase(type: string, shape: string, rounds: number, tries: number, dir: string, wasmPath: string): Promise<Case> {
  const [N, K] = shape.split('x').map(Number);
  const w = quantize(randomValues(N * K, N ^ K, 0.02), N, K, type as DType); // [N, K]
  const x = randomValues(K, 1); // [K]
  const weights = join(dir, 'w.bin'), activation = join(dir, 'x.bin');
  writeFileSync(weights, w.data);
  writeFileSync(activation, x);

  const kernels = await createWasmKernels({ wasmPath, threads: 1 });
  const xb = kernels.allocate(K);
  xb.set(x);
  const wasmOut = new Float32Array(N);
  kernels.matmul(wasmOut, xb, w, 1); // uploads the weights, untimed
  const reps = Math.max(1, Math.round(2e7 / (N * K))); // ~20 ms a try, as vecdot.c

  const impls: Array<{ name: string; time: () => { ms: number; out: Float32Array } }> = [{
    name: 'wasm',
    time: () => {
      let best = Infinity;
      for (let i = 0; i < tries; i++) {
        const t0 = performance.now();
        for (let r = 0; r < reps; r++) kernels.matmul(wasmOut, xb, w, 1);
        best = Math.min(best, (performance.now() - t0) / reps);
      }
      return { ms: best, out: wasmOut };
    },
  }];
  const common = [type, String(N), String(K), weights, activation, String(tries)];
  if (type === 'q4_0') impls.push({ name: 'c-ours', time: () => runNative(['ours', '-', ...common]) });
  for (const v of VARIANTS) {
    const lib = join(LIBS, `libggml-cpu-${v}.so`);
    if (existsSync(lib)) impls.push({ name: v, time: () => runNative(['llama', lib, ...common]) });
  }

  const best = new Map<string, { ms: number; out: Float32Array }>();
  for (let r = 0; r < rounds; r++) {
    for (const impl of impls) {
      const m = impl.time();
      const prev = best.get(impl.name);
      if (!prev || m.ms < prev.ms) best.set(impl.name, { ms: m.ms, out: m.out.slice() });
    }
  }
  await (kernels as { close?: () => Promise<void> }).close?.();

  const reference = best.get('wasm')!.out;
  const ours = best.get('c-ours');
  if (ours && relDiff(ours.out, reference) !== 0) {
    throw new Error(`bench:native: c-ours ${type} ${shape} differs from the WASM kernel (${relDiff(ours.out, reference)}): vecdot.c no longer mirrors qdecode.ts`);
  }
  const timings = impls.map(({ name }) => {
    const m = best.get(name)!;
    return { impl: name, ms: m.ms, gflops: (2 * N * K) / m.ms / 1e6, maxRelDiff: relDiff(m.out, reference) };
  });
  return { type, shape, N, K, timings };
}

function report(c: Case): void {
  const wasm = c.timings.find((t) => t.impl === 'wasm')!;
  const cells = c.timings.map((t) => `${t.impl} ${t.gflops.toFixed(1)}${t.impl === 'wasm' ? '' : ` (${(wasm.gflops / t.gflops).toFixed(2)}×)`}`);
  console.log(`${c.type.padEnd(5)} ${c.shape.padEnd(11)} GFLOPS: ${cells.join('  ')}`);
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2), ['types', 'shapes', 'rounds', 'tries', 'out'], []);
  const types = listFlag(flags, 'types', TYPES);
  for (const t of types) if (!TYPES.includes(t)) throw new Error(`--types: unknown type "${t}" (known: ${TYPES.join(', ')})`);
  const shapes = listFlag(flags, 'shapes', SHAPES);
  for (const s of shapes) if (!/^\d+x\d+$/.test(s) || Number(s.split('x')[1]) % 256 !== 0) throw new Error(`--shapes: "${s}" is not NxK with K a multiple of 256`);
  const rounds = intFlag(flags, 'rounds', 3, 1, 100);
  const tries = intFlag(flags, 'tries', 15, 1, 1000);
  const out = resolve(String(flags.get('out') ?? join(RESULTS_DIR, 'native.json')));
  const relaxed = relaxedVariant();
  if (!relaxed) throw new Error('bench:native: the relaxed-SIMD build is missing (npm run build:wasm)');
  if (!existsSync(LIBS)) throw new Error(`bench:native: node-llama-cpp's linux-x64 binaries are missing (${LIBS})`);
  buildNative();
  const machine = machineInfo();
  console.log('one matrix-vector product (T = 1), one thread, activation quantization included; wasm ÷ each in brackets');
  const dir = mkdtempSync(join(tmpdir(), 'llama-ts-native-'));
  const cases: Case[] = [];
  try {
    for (const shape of shapes) {
      for (const type of types) {
        const c = await benchCase(type, shape, rounds, tries, dir, relaxed.path);
        report(c);
        cases.push(c);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  machine.loadavgAfter = machineInfo().loadavgBefore;
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify({ schema: 'llama-ts-bench-native/1', date: new Date().toISOString(), machine, rounds, tries, cases }, null, 2) + '\n');
  console.log(`wrote ${out}`);
}

await main();
