// The main thread's side of the worker threads, for inference (kernels.ts) and training
// (training.ts) alike: starts the workers (worker.ts), hands each the compiled module and
// every shared memory, and runs jobs on all threads at once (worker-ops.ts).
//
// A job is synchronous, like the Kernels interface: the main thread writes the job into
// the control block, bumps GEN and wakes the workers, runs slice 0 itself, then blocks in
// Atomics.wait until PENDING reaches 0. Node allows Atomics.wait on its main thread;
// browsers do not, so there the model itself must run in a Web Worker (which then starts
// these workers: nested workers). So a pool started on a browser page's main thread is
// refused with an Error (defaultThreads() gives 1 there, so only an explicit threads > 1
// gets here): run the model in a Web Worker.
//
// Failures, each an Error on the caller's side naming the op:
//   - a kernel that throws (a trap) in a worker: its message, carried in the control block;
//     the pool goes on working;
//   - a worker that dies, or throws outside a job: the pool is broken, this call throws and
//     every later one throws at once. In Node the workers are the nested workers of a
//     supervisor thread, whose free event loop sees their 'exit' and wakes us (worker.ts);
//     in a browser a worker reports what it throws itself, but nothing reports a worker
//     killed from outside (browsers do so only when the page goes away). Nor does anything
//     watch the supervisor, which runs no kernels and allocates nothing after the start;
//   - PENDING below zero (more count-downs than workers: a job ran twice): broken too.
//
// Workers are unref'd: an idle pool never keeps a Node process alive. close() stops them.
import type { KernelExports } from './abi.js';
import { isBrowserMainThread, isNode } from './host.js';
import { assetCandidates, findAsset } from './module.js';
import {
  brokenText, CONTROL_BYTES, describe, failureText, MAX_ARGS, Op, opName, runSlice, Slot, TEST_HOOKS_ENV,
  type KernelsInit, type OpCode, type PoolTestHooks, type StartReply, type SupervisorInit,
} from './worker-ops.js';

export const WORKER_FILE = 'wasm-worker.mjs';
const SPIN = 20000; // polls of PENDING before sleeping (~200 µs; worker.ts says why): workers often finish within microseconds of us

// What we need of a Node worker_threads Worker or a Web Worker.
interface AnyWorker {
  postMessage(message: unknown): void;
  terminate(): unknown;
}

// Node: the worker script, beside the bundle or in build/.
async function workerScript(): Promise<string> {
  const found = await findAsset(WORKER_FILE);
  if (!found) {
    const looked = (await assetCandidates(WORKER_FILE)).join(', ');
    throw new Error(`wasm kernels: ${WORKER_FILE} not found (looked at ${looked}); build it with \`node scripts/build-wasm.mjs\``);
  }
  return found;
}

export const MAIN_THREAD_ERROR =
  'wasm kernels: threads > 1 cannot run on a browser page\'s main thread (browsers forbid Atomics.wait there); ' +
  'load the model in a Web Worker, or use threads: 1';

// Node: the supervisor, once it has started every kernels worker (or rejects, having
// terminated them, when one fails or exits while starting).
async function startSupervisor(init: SupervisorInit, onExit: (why: string) => void): Promise<AnyWorker> {
  const { Worker } = await import('node:worker_threads');
  const supervisor = new Worker(init.script);
  try {
    await new Promise<void>((resolve, reject) => {
      supervisor.once('message', (reply: StartReply) => (reply.ready ? resolve() : reject(new Error(`wasm kernels: a worker failed to start: ${reply.error}`))));
      supervisor.once('error', (error) => reject(new Error(`wasm kernels: the worker supervisor failed to start: ${error.message}`)));
      supervisor.once('exit', (code) => reject(new Error(`wasm kernels: the worker supervisor exited (code ${code}) while starting`)));
      supervisor.postMessage(init);
    });
  } catch (error) {
    await supervisor.terminate(); // and with it every kernels worker it started
    throw error;
  }
  supervisor.removeAllListeners();
  // Seen only while our event loop runs (between jobs), but then the next job throws at once.
  supervisor.on('error', (error) => onExit(`the worker supervisor failed: ${error.message}`));
  supervisor.on('exit', (code) => onExit(`the worker supervisor exited with code ${code}`));
  supervisor.unref();
  return supervisor;
}

// Browser: one module Web Worker, beside this bundle (a literal URL, so that bundlers find it).
async function startWebWorker(init: KernelsInit): Promise<AnyWorker> {
  const worker = new Worker(new URL('./wasm-worker.mjs', import.meta.url), { type: 'module' });
  try {
    await new Promise<void>((resolve, reject) => {
      worker.onmessage = () => resolve();
      // a script that fails to load gives a plain Event, without a message
      worker.onerror = (e) => reject(new Error(`wasm kernels: a worker (${WORKER_FILE}) failed to start: ${e.message ?? 'could not load it'}`));
      worker.postMessage(init);
    });
  } catch (error) {
    worker.terminate();
    throw error;
  }
  worker.onmessage = null;
  worker.onerror = null;
  return worker;
}

// Test-only hooks: the option, else $LLAMA_TS_POOL_TEST_HOOKS (Node), else none.
function testHooks(option?: PoolTestHooks): PoolTestHooks | undefined {
  const fromEnv = isNode() ? process.env[TEST_HOOKS_ENV] : undefined;
  if (option || !fromEnv) return option;
  try {
    return JSON.parse(fromEnv) as PoolTestHooks;
  } catch (error) {
    throw new Error(`wasm kernels: $${TEST_HOOKS_ENV} is not JSON: ${(error as Error).message}`);
  }
}

export class WorkerPool {
  private closed = false;
  private broken: string | undefined; // why no job can run any more
  private stopped: Promise<unknown> | undefined;
  jobs = 0; // jobs run on all threads (for tests and tuning)

  private constructor(
    private readonly workers: AnyWorker[], // Node: the supervisor alone; browser: the kernels workers
    readonly threads: number, // the kernels workers plus this thread
    private readonly control: Int32Array, // the control block (worker-ops.ts)
    private readonly hooks: PoolTestHooks | undefined,
  ) {}

  // A pool of `workers` kernels worker threads (plus the calling thread) over these memories.
  static async start(workers: number, module: WebAssembly.Module, memories: WebAssembly.Memory[], hookOption?: PoolTestHooks): Promise<WorkerPool> {
    if (isBrowserMainThread()) throw new Error(MAIN_THREAD_ERROR);
    const shared = new SharedArrayBuffer(CONTROL_BYTES);
    const control = new Int32Array(shared);
    const hooks = testHooks(hookOption);
    if (isNode()) {
      let pool: WorkerPool | undefined;
      const init: SupervisorInit = { role: 'supervisor', script: await workerScript(), workers, module, memories, control: shared, hooks };
      const supervisor = await startSupervisor(init, (why) => pool?.markBroken(why));
      pool = new WorkerPool([supervisor], workers + 1, control, hooks);
      return pool;
    }
    const starts = Array.from({ length: workers }, (_, i) => startWebWorker({ role: 'kernels', module, memories, control: shared, slice: i + 1, hooks }));
    const results = await Promise.allSettled(starts);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      for (const r of results) if (r.status === 'fulfilled') r.value.terminate(); // none outlives a failed start
      throw failed.reason;
    }
    return new WorkerPool(results.map((r) => (r as PromiseFulfilledResult<AnyWorker>).value), workers + 1, control, hooks);
  }

  // Runs `op` with integer `args` on every thread; `wasm` is this thread's instance for `shard`.
  run(op: OpCode, shard: number, args: number[], wasm: KernelExports): void {
    const name = opName(op);
    if (this.closed) throw new Error(`wasm kernels: ${name ?? op} used after close()`);
    if (this.broken) throw new Error(`wasm kernels: ${name ?? op}: the worker pool is broken (${this.broken}); load the kernels again`);
    if (name === undefined || op === Op.stop) throw new Error(`wasm kernels: unknown op ${op}`);
    if (args.length > MAX_ARGS) throw new Error(`wasm kernels: ${name}: ${args.length} job arguments, at most ${MAX_ARGS}`);
    const c = this.control;
    if (Atomics.load(c, Slot.broken)) this.throwBroken(name); // a worker died while the pool was idle
    c[Slot.op] = op;
    c[Slot.shard] = shard;
    c[Slot.slices] = this.threads;
    c[Slot.failed] = 0;
    for (let i = 0; i < args.length; i++) c[Slot.args + i] = args[i];
    Atomics.store(c, Slot.pending, this.threads - 1);
    Atomics.add(c, Slot.gen, 1); // publishes everything above to the workers
    if (this.hooks?.stallNotifyMicros !== undefined) stall(this.hooks.stallNotifyMicros);
    Atomics.notify(c, Slot.gen);
    this.jobs++;
    let ownError: unknown;
    try {
      runSlice(wasm, c, 0);
    } catch (error) {
      ownError = error;
    }
    this.waitForWorkers(name);
    if (ownError !== undefined) throw new Error(`wasm kernels: ${name} failed on thread 0: ${describe(ownError)}`, { cause: ownError });
    const failed = Atomics.load(c, Slot.failed);
    if (failed) throw new Error(`wasm kernels: ${name} failed on thread ${failed}: ${failureText(c)}`);
  }

  // Until every worker has counted PENDING down. No timeout: a dead worker ends the wait
  // through the broken slots (reportBroken changes PENDING and notifies), so we check them
  // after each wake-up, and PENDING below zero is a fault, not something to wait for.
  private waitForWorkers(name: string): void {
    const c = this.control;
    for (let i = 0; i < SPIN && Atomics.load(c, Slot.pending) !== 0; i++);
    for (;;) {
      const left = Atomics.load(c, Slot.pending); // before the broken check: see reportBroken
      if (Atomics.load(c, Slot.broken)) this.throwBroken(name);
      if (left === 0) return;
      if (left < 0) {
        this.markBroken(`PENDING fell to ${left}: a worker ran a job twice`);
        throw new Error(`wasm kernels: ${name}: the worker pool is broken (${this.broken})`);
      }
      Atomics.wait(c, Slot.pending, left);
    }
  }

  private throwBroken(name: string): never {
    const c = this.control;
    const slice = Atomics.load(c, Slot.broken);
    this.markBroken(`thread ${slice}: ${brokenText(c)}`);
    throw new Error(`wasm kernels: ${name} failed on thread ${slice}: ${brokenText(c)}; the worker pool is broken`);
  }

  // No more jobs: later calls throw at once, and the remaining workers are stopped.
  private markBroken(why: string): void {
    if (this.broken || this.closed) return;
    this.broken = why;
    this.stopped ??= Promise.all(this.workers.map((w) => w.terminate()));
  }

  // Test-only: terminates kernels worker `slice` (1, 2, ...) from outside, as a crash would.
  terminateWorkerForTest(slice: number): void {
    if (isNode()) this.workers[0].postMessage({ terminate: slice });
    else this.workers[slice - 1].terminate();
  }

  // Stops and terminates the workers; later jobs throw.
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const c = this.control;
    c[Slot.op] = Op.stop;
    Atomics.add(c, Slot.gen, 1);
    Atomics.notify(c, Slot.gen);
    this.stopped ??= Promise.all(this.workers.map((w) => w.terminate()));
    await this.stopped;
  }
}

// Test-only (PoolTestHooks.stallNotifyMicros): this thread stops between the GEN bump and
// the notify, as if descheduled there.
function stall(micros: number): void {
  const until = performance.now() + micros / 1000;
  while (performance.now() < until);
}
