// A kernels worker thread (Node worker_threads, or a module Web Worker in browsers).
// scripts/build-wasm.mjs bundles this file to build/wasm-worker.mjs (copied beside the
// package bundle in dist/); pool.ts starts it.
//
// The worker instantiates the kernels module once per shared memory it is given. Each
// instance has its own globals and its own (native, not in-memory) call stack, so
// instances never collide. Instantiation re-writes the module's active data segments —
// constant math tables below heapBase — with the very bytes already there, and it happens
// before the pool reports ready, i.e. before any kernel runs: harmless.
//
// Then it serves jobs forever: wait for the generation counter to change, run its slice,
// count PENDING down (waking the main thread at zero). A brief spin before each wait
// catches the next job of a forward pass (they follow each other within microseconds)
// without the futex round trip; the spin is short so that an idle worker sleeps.
import type { KernelExports } from './module.js';
import { FAILED, GEN, kernelImports, Op, OP, PENDING, runSlice, SHARD, type WorkerInit } from './worker-ops.js';

const SPIN = 500; // Atomics.load polls before sleeping: ~5 µs (2000 measured 23 µs on a 2-core x86)
const WAIT_MS = 20; // every wait re-checks its condition at least this often

function serve(init: WorkerInit, ready: () => void): void {
  const instances: KernelExports[] = init.memories.map(
    (memory) => new WebAssembly.Instance(init.module, kernelImports(memory)).exports as unknown as KernelExports,
  );
  const control = new Int32Array(init.control);
  let seen = Atomics.load(control, GEN);
  ready();
  for (;;) {
    // A wake-up is no proof of a new job: loop on the generation itself, and wake now and
    // then so that a lost notify costs milliseconds, not a hung process (see pool.ts).
    for (let i = 0; i < SPIN && Atomics.load(control, GEN) === seen; i++);
    while (Atomics.load(control, GEN) === seen) Atomics.wait(control, GEN, seen, WAIT_MS);
    seen = Atomics.load(control, GEN);
    if (control[OP] === Op.stop) return;
    try {
      runSlice(instances[control[SHARD]], control, init.slice);
    } catch {
      Atomics.store(control, FAILED, init.slice); // the main thread throws for us
    }
    if (Atomics.sub(control, PENDING, 1) === 1) Atomics.notify(control, PENDING);
  }
}

interface Port {
  postMessage(message: unknown): void;
}

async function main(): Promise<void> {
  const isNode = typeof process !== 'undefined' && process.versions?.node !== undefined;
  if (isNode) {
    const { parentPort } = await import('node:worker_threads');
    if (!parentPort) throw new Error('wasm-worker: not started as a worker thread');
    parentPort.once('message', (init: WorkerInit) => serve(init, () => parentPort.postMessage('ready')));
  } else {
    const self = globalThis as unknown as Port & { onmessage: ((e: MessageEvent<WorkerInit>) => void) | null };
    self.onmessage = (e) => {
      self.onmessage = null;
      serve(e.data, () => self.postMessage('ready'));
    };
  }
}

void main();
