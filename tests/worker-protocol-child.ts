// The child process of tests/worker-protocol.test.ts (bundled there with esbuild, beside a
// copy of build/wasm-worker.mjs): runs one scenario against the worker pool and prints one
// JSON line. In a child, so that a hang is a killed process and a failed test, not a hung
// test runner (a thread blocked in Atomics.wait cannot be interrupted).
//
//   node child.mjs SCENARIO KERNELS_WASM
import { readdirSync, readFileSync } from 'node:fs';
import { kernelImports, type KernelExports } from '../src/backends/wasm/abi.js';
import { WorkerPool } from '../src/backends/wasm/pool.js';
import { createWasmTrainingKernels } from '../src/backends/wasm/training.js';
import { Op, type OpCode, type PoolTestHooks } from '../src/backends/wasm/worker-ops.js';
import { relaxedSimdSupported } from '../src/backends/wasm/module.js';

const [scenario, kernelsFile] = process.argv.slice(2);

const osThreads = (): number => readdirSync('/proc/self/task').length;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// A memory of 16 MiB with our instance over it, and a bump allocator above heapBase.
async function setup(): Promise<{ module: WebAssembly.Module; memory: WebAssembly.Memory; wasm: KernelExports; f32: Float32Array; alloc: (floats: number) => number }> {
  await relaxedSimdSupported(); // a relaxed build compiles in Node 20 only with V8's flag
  const module = await WebAssembly.compile(readFileSync(kernelsFile));
  const memory = new WebAssembly.Memory({ initial: 256, maximum: 1024, shared: true });
  const wasm = new WebAssembly.Instance(module, kernelImports(memory)).exports as unknown as KernelExports;
  let next = Math.ceil(wasm.heapBase() / 64) * 64;
  const alloc = (floats: number): number => {
    const at = next;
    next += Math.ceil((4 * floats) / 64) * 64;
    return at;
  };
  return { module, memory, wasm, f32: new Float32Array(memory.buffer), alloc };
}

// The error of a call (or 'no error'), and how long it took.
function attempt(call: () => void): { error: string; ms: number } {
  const t0 = performance.now();
  try {
    call();
    return { error: 'no error', ms: performance.now() - t0 };
  } catch (error) {
    return { error: (error as Error).message, ms: performance.now() - t0 };
  }
}

let seed = 1;
function random(): number {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed / 2 ** 31 - 0.5;
}

// Thousands of small split jobs (matmul rows, gemm column panels) in bursts of eight, the
// notify stalled after the GEN bump of the last of each: within a burst the worker is
// still spinning when the next job comes, so it sees the stalled job's GEN at once, runs
// it and is asleep again when the late notify comes (the old hang's order of events).
// Every result compared bit for bit with the same call on one thread.
async function stalledNotify(): Promise<object> {
  const { module, memory, wasm, f32, alloc } = await setup();
  const BURST = 8;
  const [T, K, N, M, R, P] = [1, 64, 37, 8, 16, 45];
  const [x, w, one] = [alloc(T * K), alloc(N * K), alloc(M * P)];
  const [a, b] = [alloc(M * R), alloc(R * P)];
  const outs = Array.from({ length: BURST }, () => alloc(M * P)); // BURST × [M, P] (or [T, N])
  for (const [at, n] of [[w, N * K], [a, M * R], [b, R * P]]) for (let i = 0; i < n; i++) f32[at / 4 + i] = random();
  const hooks: PoolTestHooks = {}; // the pool reads it at every job
  const pool = await WorkerPool.start(1, module, [memory], hooks);
  const bits = new Uint32Array(memory.buffer);
  let mismatches = 0;
  const bursts = 1000;
  const t0 = performance.now();
  for (let burst = 0; burst < bursts; burst++) {
    const gemm = burst % 2 === 1;
    if (gemm) for (let i = 0; i < M * R; i++) f32[a / 4 + i] = random();
    else for (let i = 0; i < T * K; i++) f32[x / 4 + i] = random();
    for (let j = 0; j < BURST; j++) {
      hooks.stallNotifyMicros = j === BURST - 1 ? 200 : undefined;
      if (gemm) pool.run(Op.gemmF32, 0, [outs[j], a, b, M, R, P, 0], wasm);
      else pool.run(Op.matmulF32, 0, [outs[j], x, w, T, K, N], wasm);
    }
    if (gemm) wasm.gemmF32(one, a, b, M, R, P, 0, P, 0);
    else wasm.matmulF32(one, x, w, T, K, N, 0, N);
    const n = gemm ? M * P : T * N;
    for (const out of outs) for (let i = 0; i < n; i++) if (bits[out / 4 + i] !== bits[one / 4 + i]) mismatches++;
  }
  const ms = performance.now() - t0;
  await pool.close();
  return { jobs: pool.jobs, mismatches, ms };
}

// A pool of 2 workers; `kill` does something to it, then the same matmul runs until it fails,
// and once more.
async function failure(kill: (pool: WorkerPool) => Promise<void>, hooks?: PoolTestHooks): Promise<object> {
  const { module, memory, wasm, alloc } = await setup();
  const [T, K, N] = [1, 64, 30];
  const [x, w, out] = [alloc(T * K), alloc(N * K), alloc(T * N)];
  const pool = await WorkerPool.start(2, module, [memory], hooks);
  const job = (): void => pool.run(Op.matmulF32, 0, [out, x, w, T, K, N], wasm);
  const before = attempt(job);
  await kill(pool);
  // the first job that fails (jobs may still succeed until the death is seen), then one more
  let okJobs = 0;
  let first = attempt(job);
  for (; first.error === 'no error' && okJobs < 100_000; okJobs++) first = attempt(job);
  const second = attempt(job);
  await pool.close();
  return { before, okJobs, first, second };
}

// A trap in worker 2's slice only: rows 20..29 of w lie beyond the memory's end.
async function trap(): Promise<object> {
  const { module, memory, wasm, alloc } = await setup();
  const [T, K, N] = [1, 64, 30];
  const [x, out] = [alloc(T * K), alloc(T * N)];
  const w = memory.buffer.byteLength - 20 * K * 4; // rows 0..19 in the memory, 20.. past its end
  const pool = await WorkerPool.start(2, module, [memory]);
  const trapped = attempt(() => pool.run(Op.matmulF32, 0, [out, x, w, T, K, N], wasm));
  const after = attempt(() => pool.run(Op.matmulF32, 0, [out, x, w, T, K, 20], wasm)); // in bounds: the pool still works
  const unknown = attempt(() => pool.run(99 as OpCode, 0, [], wasm));
  await pool.close();
  return { trapped, after, unknown };
}

// Starting 3 workers of which worker 2 fails: start rejects, and no thread is left behind.
async function failedStart(): Promise<object> {
  const { module, memory } = await setup();
  const baseline = osThreads();
  const t0 = performance.now();
  let error = 'no error';
  try {
    await WorkerPool.start(3, module, [memory], { failStart: 2 });
  } catch (e) {
    error = (e as Error).message;
  }
  const ms = performance.now() - t0;
  await sleep(300);
  return { error, ms, baseline, after: osThreads() };
}

// Training kernels (3 threads) with the hooks in $LLAMA_TS_POOL_TEST_HOOKS: a matmul of
// 16 rows (the blocked gemm, split by column panels) twice.
async function training(): Promise<object> {
  const baseline = osThreads();
  const t0 = performance.now();
  let kernels;
  try {
    kernels = await createWasmTrainingKernels({ wasmPath: kernelsFile, threads: 3, minParallelWork: 0, maxMemoryBytes: 1 << 26 });
  } catch (e) {
    const ms = performance.now() - t0;
    await sleep(300);
    return { start: (e as Error).message, ms, baseline, after: osThreads() };
  }
  const [T, K, N] = [16, 32, 40];
  const w = { dtype: 'f32' as const, rows: N, cols: K, data: new Float32Array(N * K).fill(0.5) };
  const [x, out] = [new Float32Array(T * K).fill(1), new Float32Array(T * N)];
  const first = attempt(() => kernels.matmul(out, x, w, T));
  const second = attempt(() => kernels.matmul(out, x, w, T));
  await kernels.close();
  return { start: 'started', first, second, out0: out[0] };
}

const scenarios: Record<string, () => Promise<object>> = {
  stall: stalledNotify,
  'terminate-idle': () => failure(async (pool) => {
    pool.terminateWorkerForTest(1);
    await sleep(300); // the worker is gone before the job
  }),
  'terminate-now': () => failure(async (pool) => pool.terminateWorkerForTest(2)), // the jobs race the termination
  'exit-in-job': () => failure(async () => {}, { exitOn: { op: 'matmulF32', slice: 2 } }),
  'throw-outside': () => failure(async () => {}, { throwOutsideOn: { op: 'matmulF32', slice: 1 } }),
  trap,
  'failed-start': failedStart,
  training,
};

const run = scenarios[scenario];
if (!run) throw new Error(`worker-protocol-child: no scenario ${scenario}`);
process.stdout.write(`${JSON.stringify(await run())}\n`);
