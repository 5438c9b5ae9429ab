// The protocol between the worker pool and its threads (src/backends/wasm/pool.ts,
// worker.ts, worker-ops.ts), under the faults it must survive: a notify that comes late (the
// old hang), a worker that dies before or during a job, a kernel that traps in a worker, an
// unknown op, a worker that fails to start; for inference and training. Each scenario runs
// in a child process (tests/worker-protocol-child.ts) with a deadline, so that a hang fails
// the test instead of blocking the runner.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureWasmBuilt, wasmPath } from './wasm-helpers.js';

const DEADLINE_MS = 60_000; // a scenario that takes longer has hung
const BOUNDED_MS = 10_000; // a failure must reach the caller within this (it takes milliseconds)

let dir: string;
let child: string;
beforeAll(async () => {
  ensureWasmBuilt();
  dir = mkdtempSync(join(tmpdir(), 'llama-ts-protocol-'));
  child = join(dir, 'child.mjs');
  await build({
    entryPoints: [fileURLToPath(new URL('./worker-protocol-child.ts', import.meta.url))],
    bundle: true, platform: 'node', format: 'esm', outfile: child, logLevel: 'error',
  });
  // the pool finds its worker script beside the bundle, as in dist/
  copyFileSync(fileURLToPath(new URL('../build/wasm-worker.mjs', import.meta.url)), join(dir, 'wasm-worker.mjs'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Attempt {
  error: string;
  ms: number;
}

// Runs a scenario in a child process; its JSON result.
function scenario(name: string, env: Record<string, string> = {}): Record<string, unknown> {
  const kernels = wasmPath ?? fileURLToPath(new URL('../build/kernels-relaxed.wasm', import.meta.url));
  const run = spawnSync(process.execPath, [child, name, kernels], {
    encoding: 'utf8', timeout: DEADLINE_MS, env: { ...process.env, ...env },
  });
  if (run.error || run.status !== 0) {
    throw new Error(`scenario ${name}: ${run.error?.message ?? `exit status ${run.status}`} (signal ${run.signal})\n${run.stderr}`);
  }
  return JSON.parse(run.stdout);
}

// An error that names the op, the thread and the pool's breakage, within the bound.
function expectBroken(a: Attempt, op: string, thread: number, why: RegExp): void {
  expect(a.error).toContain(`wasm kernels: ${op} failed on thread ${thread}: `);
  expect(a.error).toMatch(why);
  expect(a.error).toContain('the worker pool is broken');
  expect(a.ms).toBeLessThan(BOUNDED_MS);
}

// A later call: refused at once.
function expectRefused(a: Attempt, op: string): void {
  expect(a.error).toMatch(new RegExp(`^wasm kernels: ${op}: the worker pool is broken \\(thread \\d`));
  expect(a.ms).toBeLessThan(50);
}

describe('worker protocol', () => {
  it('a notify that comes after the workers finished (the old hang) neither hangs nor runs a job twice: bits equal one thread', () => {
    const r = scenario('stall');
    expect(r).toMatchObject({ jobs: 8000, mismatches: 0 });
  });

  it('a worker terminated while the pool is idle: the next job throws, naming the op, and later ones at once', () => {
    const r = scenario('terminate-idle') as Record<string, Attempt>;
    expect(r.before.error).toBe('no error');
    expect(r.okJobs).toBe(0);
    expectBroken(r.first, 'matmulF32', 1, /the worker died \(exited with code 1\)/);
    expectRefused(r.second, 'matmulF32');
  });

  it('a worker terminated while jobs run: an error, not a hang', () => {
    const r = scenario('terminate-now') as Record<string, Attempt>;
    expect(r.before.error).toBe('no error'); // the jobs before the death is seen succeed: r.okJobs
    expectBroken(r.first, 'matmulF32', 2, /the worker died \(exited with code 1\)/);
    expectRefused(r.second, 'matmulF32');
  });

  it('a worker that ends its thread in the middle of a job: an error naming the op', () => {
    const r = scenario('exit-in-job') as Record<string, Attempt>;
    expectBroken(r.before, 'matmulF32', 2, /the worker died \(exited with code 70\)/);
    expectRefused(r.first, 'matmulF32');
    expectRefused(r.second, 'matmulF32');
    expect(r.okJobs).toBe(0);
  });

  it('a worker that throws outside a job reports it: an error with its message', () => {
    const r = scenario('throw-outside') as Record<string, Attempt>;
    expectBroken(r.before, 'matmulF32', 1, /threw outside a job: Error: test hook: worker 1 throws outside matmulF32/);
    expectRefused(r.first, 'matmulF32');
  });

  it('a kernel that traps in a worker: the trap\'s message and the op; the pool goes on; an unknown op is an error', () => {
    const r = scenario('trap') as Record<string, Attempt>;
    expect(r.trapped.error).toBe('wasm kernels: matmulF32 failed on thread 2: RuntimeError: memory access out of bounds');
    expect(r.after.error).toBe('no error');
    expect(r.unknown.error).toBe('wasm kernels: unknown op 99');
  });

  it('a worker that fails to start: start rejects and the workers already started are terminated', () => {
    const r = scenario('failed-start');
    expect(r.error).toBe('wasm kernels: a worker failed to start: worker 2 failed: Error: test hook: worker 2 fails to start while starting');
    expect(r.ms).toBeLessThan(BOUNDED_MS);
    expect(r.after).toBe(r.baseline); // OS threads of this process: the supervisor and all its workers are gone
  });
});

describe('worker protocol: training kernels', () => {
  const hooks = (h: object) => ({ LLAMA_TS_POOL_TEST_HOOKS: JSON.stringify(h) });

  it('work on the same pool: a split gemm', () => {
    const r = scenario('training');
    expect(r).toMatchObject({ start: 'started', first: { error: 'no error' }, second: { error: 'no error' }, out0: 16 });
  });

  it('a worker that dies in a gemm: an error naming it, then refusals', () => {
    const r = scenario('training', hooks({ exitOn: { op: 'gemmF32', slice: 1 } })) as Record<string, Attempt>;
    expectBroken(r.first, 'gemmF32', 1, /the worker died \(exited with code 70\)/);
    expectRefused(r.second, 'gemmF32');
  });

  it('a worker that fails to start: createWasmTrainingKernels rejects, no thread left behind', () => {
    const r = scenario('training', hooks({ failStart: 1 }));
    expect(r.start).toMatch(/^wasm kernels: a worker failed to start: worker 1 failed: Error: test hook: worker 1 fails to start/);
    expect(r.after).toBe(r.baseline);
  });
});
