// Worker threads for training: a matrix product split by output columns (in panels of
// eight), attention split by kv heads. Every output is computed by one thread with the same
// code and the same order of additions, so results do not depend on the number of threads,
// bit for bit.
//
// The same protocol as the forward kernels' pool (pool.ts, worker-ops.ts), kept separate so
// that training adds no job to theirs: the main thread writes the job into a shared control
// block, bumps the generation counter and wakes the workers, runs slice 0 itself, then waits
// until PENDING reaches 0. Workers run as Node eval workers from the self-contained function
// below (no bundled script to find), each instantiating the kernels module over the memory.
//
// Control block, Int32 over a SharedArrayBuffer:
//   [GEN] job generation (workers wait on it)   [PENDING] workers still running the job
//   [OP] Job below, or STOP                     [FAILED] slice of a worker whose kernel threw
//   [SLICES] threads taking part                [ARGS..] the job's integer arguments
const GEN = 0;
const PENDING = 1;
const OP = 2;
const FAILED = 3;
const SLICES = 4;
const ARGS = 5;
const MAX_ARGS = 16;
const SPIN = 2000; // polls before sleeping: jobs follow each other within microseconds
// Every wait also times out after this long and re-checks its condition: a safety net. A run
// of llama-ts train hung once with the main thread and its worker both asleep in
// Atomics.wait (a notify lost, or a wake-up taken for a new job); the conditions are
// re-checked either way.
const WAIT_MS = 20;

export const Job = {
  stop: 0,
  gemm: 1, // c a b M R P accumulate
  attention: 2, // out q k v scratch scratchStride T nHeads nKvHeads hd
  attentionBackward: 3, // dq dk dv dout q k v scratch scratchStride T nHeads nKvHeads hd
} as const;
export type JobCode = (typeof Job)[keyof typeof Job];

// What a slice calls (assembly/gemm.ts, assembly/attention-train.ts).
export interface PoolExports {
  gemmF32(c: number, a: number, b: number, M: number, R: number, P: number, p0: number, p1: number, accumulate: number): void;
  attentionSequence(
    out: number, q: number, k: number, v: number, scores: number, kT: number,
    T: number, nHeads: number, nKvHeads: number, hd: number, g0: number, g1: number,
  ): void;
  attentionSequenceBackward(
    dq: number, dk: number, dv: number, dout: number, q: number, k: number, v: number,
    p: number, dp: number, pT: number, kT: number, vT: number,
    T: number, nHeads: number, nKvHeads: number, hd: number, g0: number, g1: number,
  ): void;
}

// Columns of slice i of n: multiples of 8 (whole panels) except at the end.
export function columnRange(P: number, i: number, n: number): [number, number] {
  const panels = Math.ceil(P / 8);
  return [Math.min(Math.floor((i * panels) / n) * 8, P), Math.min(Math.floor(((i + 1) * panels) / n) * 8, P)];
}

// Floats of per-slice scratch the attention jobs need: [T, T] scores and [hd, T] keys forward;
// p, dp, pT [T, T] and kT, vT [hd, T] backward.
export function attentionScratch(T: number, hd: number, backward: boolean): number {
  return backward ? 3 * T * T + 2 * hd * T : T * T + hd * T;
}

// Runs slice `slice` of the job in `c` (Int32 control block). Self-contained, as it is also
// the workers' code (stringified): no outside names but its arguments and globals, so the
// control indices are written as numbers (OP 2, SLICES 4, ARGS 5).
export function runJob(wasm: PoolExports, c: Int32Array, slice: number): void {
  const op = c[2];
  const n = c[4];
  const a = (i: number): number => c[5 + i] >>> 0; // byte offsets may pass 2 GiB
  if (op === 1) {
    const P = a(5);
    const panels = Math.ceil(P / 8);
    const lo = Math.min(Math.floor((slice * panels) / n) * 8, P);
    const hi = Math.min(Math.floor(((slice + 1) * panels) / n) * 8, P);
    if (lo < hi) wasm.gemmF32(a(0), a(1), a(2), a(3), a(4), P, lo, hi, a(6));
    return;
  }
  const backward = op === 3;
  const base = backward ? 7 : 4; // index of the scratch pointer
  const [T, nHeads, nKvHeads, hd] = [a(base + 2), a(base + 3), a(base + 4), a(base + 5)];
  const g0 = Math.floor((slice * nKvHeads) / n);
  const g1 = Math.floor(((slice + 1) * nKvHeads) / n);
  if (g0 >= g1) return;
  const s = a(base) + slice * a(base + 1); // this slice's scratch
  if (backward) {
    const tt = 4 * T * T;
    wasm.attentionSequenceBackward(a(0), a(1), a(2), a(3), a(4), a(5), a(6), s, s + tt, s + 2 * tt, s + 3 * tt, s + 3 * tt + 4 * hd * T, T, nHeads, nKvHeads, hd, g0, g1);
  } else {
    wasm.attentionSequence(a(0), a(1), a(2), a(3), s, s + 4 * T * T, T, nHeads, nKvHeads, hd, g0, g1);
  }
}

// The worker's whole program, stringified into an eval worker with runJob's source before it;
// parentPort comes from the worker's own require (written into that source, not here, where
// a bundler would rewrite it).
function workerMain(run: typeof runJob, parentPort: import('node:worker_threads').MessagePort | null): void {
  if (!parentPort) throw new Error('wasm training kernels: the worker was not started as a worker thread');
  parentPort.once('message', (init: { module: WebAssembly.Module; memory: WebAssembly.Memory; control: SharedArrayBuffer; slice: number }) => {
    const env = {
      memory: init.memory,
      abort: (_m: number, _f: number, line: number, column: number): never => {
        throw new Error(`wasm kernels: abort at line ${line}, column ${column}`);
      },
    };
    const wasm = new WebAssembly.Instance(init.module, { env }).exports as unknown as PoolExports;
    const c = new Int32Array(init.control);
    let seen = Atomics.load(c, 0);
    parentPort.postMessage('ready');
    for (;;) {
      // A wake-up is no proof of a new job: loop on the generation itself, and wake now and
      // then so that a lost notify costs a few milliseconds, not a hung process.
      for (let i = 0; i < 2000 && Atomics.load(c, 0) === seen; i++);
      while (Atomics.load(c, 0) === seen) Atomics.wait(c, 0, seen, 20);
      seen = Atomics.load(c, 0);
      if (c[2] === 0) return;
      try {
        run(wasm, c, init.slice);
      } catch {
        Atomics.store(c, 3, init.slice);
      }
      if (Atomics.sub(c, 1, 1) === 1) Atomics.notify(c, 1);
    }
  });
}

interface NodeWorker {
  postMessage(message: unknown): void;
  terminate(): Promise<number>;
  unref(): void;
  once(event: string, listener: (...args: never[]) => void): void;
  removeAllListeners(): void;
}

export class TrainingPool {
  private closed = false;

  private constructor(private readonly workers: NodeWorker[], private readonly control: Int32Array) {}

  // A pool of `workers` threads (plus the calling one) over `memory`. Node only.
  static async start(workers: number, module: WebAssembly.Module, memory: WebAssembly.Memory): Promise<TrainingPool> {
    const { Worker } = await import('node:worker_threads');
    const shared = new SharedArrayBuffer(4 * (ARGS + MAX_ARGS)); // the control block
    // __name: what a bundler that keeps function names may have wrapped around inner functions
    const source = `const __name = (f) => f; (${workerMain.toString()})(${runJob.toString()}, require('node:worker_threads').parentPort)`;
    const started = await Promise.all(
      Array.from({ length: workers }, async (_, i) => {
        const worker = new Worker(source, { eval: true }) as unknown as NodeWorker;
        await new Promise<void>((resolve, reject) => {
          worker.once('message', () => resolve());
          worker.once('error', (error: Error) => reject(new Error(`wasm training kernels: a worker failed to start: ${error.message}`)));
          worker.postMessage({ module, memory, control: shared, slice: i + 1 });
        });
        worker.removeAllListeners();
        worker.unref();
        return worker;
      }),
    );
    return new TrainingPool(started, new Int32Array(shared));
  }

  get threads(): number {
    return this.workers.length + 1;
  }

  // Runs `job` with integer `args` on every thread; `wasm` is this thread's instance.
  run(wasm: PoolExports, job: JobCode, args: number[]): void {
    if (this.closed) throw new Error('wasm training kernels: used after close()');
    if (args.length > MAX_ARGS) throw new Error(`wasm training kernels: ${args.length} job arguments, at most ${MAX_ARGS}`);
    const c = this.control;
    c[OP] = job;
    c[SLICES] = this.threads;
    c[FAILED] = 0;
    for (let i = 0; i < args.length; i++) c[ARGS + i] = args[i];
    Atomics.store(c, PENDING, this.workers.length);
    Atomics.add(c, GEN, 1); // publishes everything above
    Atomics.notify(c, GEN);
    try {
      runJob(wasm, c, 0);
    } finally {
      this.waitForWorkers();
    }
    const failed = Atomics.load(c, FAILED);
    if (failed) throw new Error(`wasm training kernels: worker ${failed} failed on job ${job}`);
  }

  private waitForWorkers(): void {
    const c = this.control;
    for (let i = 0; i < SPIN && Atomics.load(c, PENDING) !== 0; i++);
    for (let left = Atomics.load(c, PENDING); left !== 0; left = Atomics.load(c, PENDING)) Atomics.wait(c, PENDING, left, WAIT_MS);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.control[OP] = Job.stop;
    Atomics.add(this.control, GEN, 1);
    Atomics.notify(this.control, GEN);
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
