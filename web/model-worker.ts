// The page's Web Worker: runs a model with several kernel threads, which a page's main
// thread cannot (Atomics.wait is forbidden there). Its kernel workers (wasm-worker.mjs) are
// nested workers. One request in (RunRequest), one reply out (WorkerReply).
import { run, type RunRequest, type WorkerReply } from './run.js';

const scope = globalThis as unknown as {
  onmessage: ((e: MessageEvent<RunRequest>) => void) | null;
  postMessage(message: WorkerReply): void;
};

scope.onmessage = (e) => {
  run(e.data, 'worker').then(
    (result) => scope.postMessage({ ok: true, result }),
    (error: Error) => scope.postMessage({ ok: false, error: error.message }),
  );
};
