// A fuzz worker: runs the batches the main thread sends, under resourceLimits (set by the
// main thread) and the memory guard, and writes the case it is on into shared memory, so
// that the main thread can tell a hang and which case it was, and end this worker.
import { getHeapStatistics } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { runBatch, targetNamed } from './batch.js';
import { installMemoryGuard } from './run-case.js';

export interface BatchRequest { target: string; seed: number; cases: number; deadlineMs: number }

// [0]: 1 while a case runs; [1]: the case's index in the batch. Float64 [1]: its start (ms).
const status = new Int32Array(workerData.status as SharedArrayBuffer, 0, 2);
const started = new Float64Array(workerData.status as SharedArrayBuffer, 8, 1);

installMemoryGuard();
let peakHeap = 0;

parentPort?.on('message', async (req: BatchRequest) => {
  const target = targetNamed(req.target);
  const stats = await runBatch(target, req.seed, req.cases, req.deadlineMs, (index) => {
    Atomics.store(status, 1, index);
    started[0] = performance.timeOrigin + performance.now();
    Atomics.store(status, 0, 1);
    if ((index & 255) === 0) peakHeap = Math.max(peakHeap, getHeapStatistics().used_heap_size);
  });
  Atomics.store(status, 0, 0);
  peakHeap = Math.max(peakHeap, getHeapStatistics().used_heap_size);
  parentPort?.postMessage({ stats, peakHeap }); // copied, not transferred: the input may view a seed
});
