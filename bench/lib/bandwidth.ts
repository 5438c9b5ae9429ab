// The machine's memory bandwidth, as a yardstick for decode speed: decoding one token reads
// every weight once, so weight bytes per token × tokens/s cannot exceed what a plain SIMD
// sum over a buffer much larger than the caches reaches. Measured with one thread and with
// several (worker threads summing disjoint parts of one shared WASM memory).
import { Worker } from 'node:worker_threads';
import asc from 'assemblyscript/asc';
import { median, seconds } from './stats.js';

const PAGE = 65536;

// AssemblyScript: four independent f32x4 add chains, 64 bytes per iteration, so the loop
// is bound by loads, not by add latency; read as two streams half the buffer apart, as the
// decode kernels read weight rows (one stream keeps the hardware prefetcher less far ahead:
// on the 2-vCPU EPYC, 17-19 GB/s against about 24 with two).
const SUM_SOURCE = `
export function sum(ptr: usize, bytes: usize): f32 {
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let a2 = f32x4.splat(0);
  let a3 = f32x4.splat(0);
  const half = (bytes >> 1) & ~31;
  const end = ptr + half;
  for (let p = ptr; p < end; p += 32) {
    a0 = f32x4.add(a0, v128.load(p));
    a1 = f32x4.add(a1, v128.load(p, 16));
    a2 = f32x4.add(a2, v128.load(p + half));
    a3 = f32x4.add(a3, v128.load(p + half, 16));
  }
  const s = f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3));
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3);
}
`;

type SumFn = (ptr: number, bytes: number) => number;

async function compileSum(): Promise<WebAssembly.Module> {
  const result = await asc.compileString(SUM_SOURCE, {
    optimizeLevel: 3, noAssert: true, runtime: 'stub', enable: ['simd', 'threads'],
    importMemory: true, sharedMemory: true, initialMemory: 1, maximumMemory: 65536,
  });
  if (result.error || !result.binary) throw new Error(`bandwidth: compiling the sum kernel failed: ${result.error?.message} ${result.stderr.toString()}`);
  return WebAssembly.compile(result.binary as Uint8Array<ArrayBuffer>);
}

async function instantiate(module: WebAssembly.Module, memory: WebAssembly.Memory): Promise<SumFn> {
  const instance = await WebAssembly.instantiate(module, { env: { memory, abort: () => { throw new Error('abort'); } } });
  return instance.exports.sum as SumFn;
}

// A worker that sums its slice `passes` times when told to start, and reports seconds per pass.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { module, memory, ptr, bytes, passes } = workerData;
WebAssembly.instantiate(module, { env: { memory, abort() { throw new Error('abort'); } } }).then((instance) => {
  const sum = instance.exports.sum;
  sum(ptr, bytes); // warm: compile tiers, TLB
  parentPort.postMessage('ready');
  parentPort.once('message', () => {
    const times = [];
    for (let i = 0; i < passes; i++) {
      const t0 = performance.now();
      sum(ptr, bytes);
      times.push((performance.now() - t0) / 1000);
    }
    parentPort.postMessage(times);
  });
});
`;

export interface BandwidthResult {
  bytes: number; // size of the buffer summed
  passes: number;
  gbPerSecond: Record<string, number>; // by thread count, "1", "2": median over passes, 1e9 bytes/s
}

// Sums a buffer of `bytes` (default 1 GiB) with each thread count in `threads`.
export async function measureBandwidth(threads: readonly number[], bytes = 2 ** 30, passes = 5): Promise<BandwidthResult> {
  const module = await compileSum();
  const pages = Math.ceil(bytes / PAGE) + 1;
  const memory = new WebAssembly.Memory({ initial: pages, maximum: 65536, shared: true });
  const base = PAGE; // the first page is left to the module's static data
  new Float32Array(memory.buffer, base, bytes / 4).fill(1); // touch every page: untouched pages all map to one zero page
  const result: BandwidthResult = { bytes, passes, gbPerSecond: {} };
  for (const n of threads) {
    const perPass = n === 1 ? await singleThread(module, memory, base, bytes, passes) : await multiThread(module, memory, base, bytes, passes, n);
    result.gbPerSecond[String(n)] = Math.round((bytes / perPass / 1e9) * 100) / 100;
  }
  return result;
}

async function singleThread(module: WebAssembly.Module, memory: WebAssembly.Memory, base: number, bytes: number, passes: number): Promise<number> {
  const sum = await instantiate(module, memory);
  sum(base, bytes);
  const times: number[] = [];
  for (let i = 0; i < passes; i++) {
    const t0 = seconds();
    sum(base, bytes);
    times.push(seconds() - t0);
  }
  return median(times);
}

// n workers each sum 1/n of the buffer at the same time; a pass lasts as long as the slowest.
async function multiThread(
  module: WebAssembly.Module, memory: WebAssembly.Memory, base: number, bytes: number, passes: number, n: number,
): Promise<number> {
  const slice = Math.floor(bytes / n / 64) * 64;
  const workers = Array.from({ length: n }, (_, i) =>
    new Worker(WORKER_SOURCE, { eval: true, workerData: { module, memory, ptr: base + i * slice, bytes: slice, passes } }));
  try {
    await Promise.all(workers.map((w) => once(w)));
    const reports = workers.map((w) => once(w) as Promise<number[]>);
    for (const w of workers) w.postMessage('go');
    const times = await Promise.all(reports);
    const slowest = Array.from({ length: passes }, (_, p) => Math.max(...times.map((t) => t[p])));
    return median(slowest) * (bytes / (slice * n));
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

function once(worker: Worker): Promise<unknown> {
  return new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}
