// The worker script (scripts/build-wasm.mjs bundles this file to build/wasm-worker.mjs,
// copied beside the package bundle in dist/; pool.ts starts it). One script, two roles,
// chosen by the first message:
//
//   kernels     runs its slice of every job, inference and training alike (worker-ops.ts)
//   supervisor  Node only: starts the kernels workers as its own (nested) workers and
//               reports their death into the control block (see supervise below)
//
// A kernels worker instantiates the kernels module once per shared memory it is given. Each
// instance has its own globals and its own (native, not in-memory) call stack, so instances
// never collide. Instantiation re-writes the module's active data segments — constant math
// tables below heapBase — with the very bytes already there, and it happens before the pool
// reports ready, i.e. before any kernel runs: harmless.
import type { KernelExports } from './abi.js';
import { kernelImports } from './abi.js';
import {
  describe, Op, opName, reportBroken, reportFailure, runSlice, Slot,
  type KernelsInit, type PoolTestHooks, type StartReply, type SupervisorInit,
} from './worker-ops.js';

// Atomics.load polls before sleeping: ~200 µs (2000 measured 23 µs on a 2-core x86). Long
// enough to bridge the gaps between one token's jobs (the main thread's attention, norms and
// activation quantizing between matmuls: tens of µs on the 110M shape), where 500 (~5 µs) let
// the workers fall asleep and pay a futex wake-up per job: 110M decode at 2 threads against 1
// went from 1.11× to 1.54× (F32) and 1.18× to 1.27× (Q4_0) in one bench:e2e run each. An idle
// worker still sleeps, 200 µs after its last job.
const SPIN = 20000;

// ---- kernels role

// Serves jobs until the stop op: wait for the generation counter to change, run this slice,
// count PENDING down (waking the main thread at zero). A brief spin before each wait
// catches the next job of a forward pass (they follow each other within microseconds)
// without the futex round trip; the spin is short so that an idle worker sleeps.
function serveJobs(init: KernelsInit, instances: KernelExports[], control: Int32Array, seen: number): void {
  const { slice, hooks } = init;
  for (;;) {
    // The old hang: the main thread bumps GEN and is descheduled before its notify; we see
    // the new GEN while spinning, run the job, count PENDING down and go to sleep on GEN;
    // the late notify then wakes us. A worker that took that wake-up for a job ran the job
    // a second time and counted PENDING to -1: the main thread waited for ever, or a later
    // job read outputs not yet written. So a wake-up proves nothing: loop until GEN itself
    // has moved. No timeout: an idle worker sleeps until the next job.
    for (let i = 0; i < SPIN && Atomics.load(control, Slot.gen) === seen; i++);
    while (Atomics.load(control, Slot.gen) === seen) Atomics.wait(control, Slot.gen, seen);
    seen = Atomics.load(control, Slot.gen);
    const op = control[Slot.op];
    if (op === Op.stop) return;
    if (hooks) runTestHooks(hooks, op, slice);
    try {
      runSlice(instances[control[Slot.shard]], control, slice);
    } catch (error) {
      reportFailure(control, slice, error); // we go on serving; the main thread throws it
    }
    const before = Atomics.sub(control, Slot.pending, 1);
    if (before === 1) Atomics.notify(control, Slot.pending);
    else if (before <= 0) {
      // more count-downs than workers: a job ran twice (the old hang) — never wait on that
      reportBroken(control, slice, `counted PENDING below zero on ${opName(op)} (a job ran twice)`);
      return;
    }
  }
}

// Test-only (worker-ops.ts PoolTestHooks): die, or throw outside the job's try, on an op.
function runTestHooks(hooks: PoolTestHooks, op: number, slice: number): void {
  const name = opName(op);
  if (hooks.exitOn?.slice === slice && hooks.exitOn.op === name) (globalThis as unknown as { process: { exit(code: number): never } }).process.exit(70);
  if (hooks.throwOutsideOn?.slice === slice && hooks.throwOutsideOn.op === name) throw new Error(`test hook: worker ${slice} throws outside ${name}`);
}

// Instantiates the module over every memory, says it is ready, then serves. Anything thrown
// outside a job (a failed wait, a test hook, a bug) is reported as the pool broken rather
// than left to kill the thread silently: the main thread may be asleep waiting for us.
function runKernels(init: KernelsInit, ready: () => void): void {
  if (init.hooks?.failStart === init.slice) throw new Error(`test hook: worker ${init.slice} fails to start`);
  const instances = init.memories.map((memory) => new WebAssembly.Instance(init.module, kernelImports(memory)).exports as unknown as KernelExports);
  const control = new Int32Array(init.control);
  const seen = Atomics.load(control, Slot.gen); // before ready(): the first job may follow at once
  ready();
  try {
    serveJobs(init, instances, control, seen);
  } catch (error) {
    reportBroken(control, init.slice, `threw outside a job: ${describe(error)}`);
  }
}

// ---- supervisor role (Node)

// The main thread blocks in Atomics.wait while a job runs, so it cannot see a worker's
// 'exit' or 'error' event (its event loop does not run), and a worker that died (terminated,
// out of memory, a fatal error) would never count PENDING down: the caller would hang for
// ever. The supervisor's event loop is free: it owns the kernels workers, so their events
// come to it, and on a death it writes the broken slots and wakes the main thread
// (reportBroken), which then throws. Node delivers a nested worker's 'exit' to its parent
// while the main thread sleeps, and terminating the supervisor terminates its workers
// (both checked on Node 20). A stop (close()) makes every worker exit: not a death.
interface NodeWorker {
  postMessage(message: unknown): void;
  terminate(): Promise<number>;
  on(event: string, listener: (...args: never[]) => void): void;
}
interface NodePort {
  postMessage(message: unknown): void;
  on(event: 'message', listener: (message: { terminate?: number }) => void): void;
}

async function supervise(init: SupervisorInit, parent: NodePort): Promise<void> {
  const { Worker } = await import('node:worker_threads');
  const control = new Int32Array(init.control);
  const workers: NodeWorker[] = [];
  const starts: Promise<void>[] = [];
  for (let slice = 1; slice <= init.workers; slice++) {
    const worker = new Worker(init.script) as unknown as NodeWorker;
    workers.push(worker);
    let started = false;
    starts.push(new Promise<void>((resolve, reject) => {
      const died = (why: string): void => {
        if (!started) reject(new Error(`worker ${slice} ${why} while starting`));
        else if (Atomics.load(control, Slot.op) !== Op.stop) reportBroken(control, slice, `the worker died (${why})`);
      };
      worker.on('message', (reply: StartReply) => {
        if (reply.ready) {
          started = true;
          resolve();
        } else reject(new Error(`worker ${slice}: ${reply.error}`));
      });
      worker.on('error', (error: Error) => died(`failed: ${describe(error)}`));
      worker.on('exit', (code: number) => died(`exited with code ${code}`));
    }));
    const { module, memories, control: shared, hooks } = init;
    worker.postMessage({ role: 'kernels', module, memories, control: shared, slice, hooks } satisfies KernelsInit);
  }
  const failed = (await Promise.allSettled(starts)).find((r) => r.status === 'rejected');
  if (failed) {
    await Promise.all(workers.map((w) => w.terminate())); // none of them outlives a failed start
    parent.postMessage({ ready: false, error: (failed as PromiseRejectedResult).reason.message } satisfies StartReply);
    return;
  }
  // test-only: the pool's terminateWorkerForTest
  parent.on('message', (message) => void (message.terminate && workers[message.terminate - 1]?.terminate()));
  parent.postMessage({ ready: true } satisfies StartReply);
}

// ---- entry

type Init = KernelsInit | SupervisorInit;

async function main(): Promise<void> {
  const isNode = typeof process !== 'undefined' && process.versions?.node !== undefined;
  if (isNode) {
    const { parentPort } = await import('node:worker_threads');
    if (!parentPort) throw new Error('wasm-worker: not started as a worker thread');
    parentPort.once('message', (init: Init) => {
      if (init.role === 'supervisor') void supervise(init, parentPort as unknown as NodePort);
      else runKernels(init, () => parentPort.postMessage({ ready: true } satisfies StartReply));
    });
  } else {
    const self = globalThis as unknown as { postMessage(message: unknown): void; onmessage: ((e: MessageEvent<Init>) => void) | null };
    self.onmessage = (e) => {
      self.onmessage = null;
      const init = e.data;
      if (init.role !== 'kernels') throw new Error('wasm-worker: the supervisor role is Node only');
      runKernels(init, () => self.postMessage({ ready: true } satisfies StartReply));
    };
  }
}

void main();
