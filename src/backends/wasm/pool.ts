// The main thread's side of the kernel threads: starts the workers (worker.ts), hands
// each the compiled module and every shared memory, and runs jobs on all threads at once.
//
// A job is synchronous, like the Kernels interface: the main thread writes the job into
// the control block (worker-ops.ts), wakes the workers, runs slice 0 itself, then blocks
// in Atomics.wait until the workers are done. Node allows Atomics.wait on its main thread;
// browsers do not, so there the model itself must run in a Web Worker (which then starts
// these workers: nested workers).
//
// So a pool started on a browser page's main thread is refused with an Error (defaultThreads()
// gives 1 there, so only an explicit threads > 1 gets here): run the model in a Web Worker.
//
// Workers are unref'd: an idle pool never keeps a Node process alive. close() stops them.
import { isBrowserMainThread, isNode } from './host.js';
import { assetCandidates, findAsset } from './module.js';
import { ARGS, CONTROL_INTS, FAILED, GEN, MAX_ARGS, Op, OP, PENDING, runSlice, SHARD, SLICES, type OpCode, type WorkerInit } from './worker-ops.js';
import type { KernelExports } from './module.js';

export const WORKER_FILE = 'wasm-worker.mjs';
const SPIN = 500; // polls of PENDING before sleeping (~5 µs): workers often finish within microseconds of us
// Every wait also times out after this long and re-checks its condition: a safety net. The
// training pool (same protocol) once hung with the main thread and its worker both asleep in
// Atomics.wait; workers now loop on the generation number rather than trusting a wake-up.
const WAIT_MS = 20;

// What we need of a Node worker_threads Worker or a Web Worker.
interface AnyWorker {
  postMessage(message: unknown): void;
  terminate(): unknown;
  unref?(): void;
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

// Starts one worker and resolves once it has instantiated the module over every memory.
async function startWorker(init: WorkerInit): Promise<AnyWorker> {
  if (isNode()) {
    const { Worker } = await import('node:worker_threads');
    const worker = new Worker(await workerScript());
    await new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', (error) => reject(new Error(`wasm kernels: a worker failed to start: ${error.message}`)));
      worker.once('exit', (code) => reject(new Error(`wasm kernels: a worker exited (code ${code}) while starting`)));
      worker.postMessage(init);
    });
    worker.removeAllListeners();
    worker.unref();
    return worker;
  }
  // A module Web Worker, beside this bundle (a literal URL, so that bundlers find it)
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

export class WorkerPool {
  private closed = false;
  jobs = 0; // jobs run on all threads (for tests and tuning)

  private constructor(private readonly workers: AnyWorker[], private readonly control: Int32Array) {}

  // A pool of `workers` worker threads (plus the calling thread) over these memories.
  static async start(workers: number, module: WebAssembly.Module, memories: WebAssembly.Memory[]): Promise<WorkerPool> {
    if (isBrowserMainThread()) throw new Error(MAIN_THREAD_ERROR);
    const shared = new SharedArrayBuffer(4 * CONTROL_INTS); // control block: Int32 [CONTROL_INTS]
    const started = await Promise.all(
      Array.from({ length: workers }, (_, i) => startWorker({ module, memories, control: shared, slice: i + 1 })),
    );
    return new WorkerPool(started, new Int32Array(shared));
  }

  get threads(): number {
    return this.workers.length + 1;
  }

  // Runs `op` with integer `args` on every thread; `wasm` is this thread's instance for `shard`.
  run(op: OpCode, shard: number, args: number[], wasm: KernelExports): void {
    if (this.closed) throw new Error('wasm kernels: used after close()');
    if (args.length > MAX_ARGS) throw new Error(`wasm kernels: ${args.length} job arguments, at most ${MAX_ARGS}`);
    const c = this.control;
    c[OP] = op;
    c[SHARD] = shard;
    c[SLICES] = this.threads;
    c[FAILED] = 0;
    for (let i = 0; i < args.length; i++) c[ARGS + i] = args[i];
    Atomics.store(c, PENDING, this.workers.length);
    Atomics.add(c, GEN, 1); // publishes everything above to the workers
    Atomics.notify(c, GEN);
    this.jobs++;
    try {
      runSlice(wasm, c, 0);
    } finally {
      this.waitForWorkers();
    }
    const failed = Atomics.load(c, FAILED);
    if (failed) throw new Error(`wasm kernels: worker ${failed} failed on job ${op}`);
  }

  private waitForWorkers(): void {
    const c = this.control;
    for (let i = 0; i < SPIN && Atomics.load(c, PENDING) !== 0; i++);
    for (let left = Atomics.load(c, PENDING); left !== 0; left = Atomics.load(c, PENDING)) {
      Atomics.wait(c, PENDING, left, WAIT_MS);
    }
  }

  // Stops and terminates the workers; later jobs throw.
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const c = this.control;
    c[OP] = Op.stop;
    Atomics.add(c, GEN, 1);
    Atomics.notify(c, GEN);
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
