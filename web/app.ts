// The page's script: reads the form, runs the model on the page (1 thread) or in a Web
// Worker (model-worker.ts; any number of threads), and shows the text as it comes.
// window.llamaRun(request) does the same without the form (tests/browser.test.ts uses it).
import { setUpChatMode } from './chat-page.js';
import { run, type RunRequest, type RunResult, type WorkerReply } from './run.js';

// Runs a request in a fresh model worker, which ends with the request.
function runInWorker(request: RunRequest): Promise<RunResult> {
  const worker = new Worker(new URL('./model-worker.js', import.meta.url), { type: 'module' });
  return new Promise<RunResult>((resolve, reject) => {
    worker.onmessage = (e: MessageEvent<WorkerReply>) => (e.data.ok ? resolve(e.data.result) : reject(new Error(e.data.error)));
    worker.onerror = (e) => reject(new Error(`model worker: ${e.message ?? 'failed to load'}`));
    worker.postMessage(request);
  }).finally(() => worker.terminate());
}

export function llamaRun(request: RunRequest, inWorker: boolean, onText?: (text: string) => void): Promise<RunResult> {
  return inWorker ? runInWorker(request) : run(request, 'page', onText);
}

const field = (id: string): HTMLInputElement => document.getElementById(id) as HTMLInputElement;

async function onSubmit(event: Event): Promise<void> {
  event.preventDefault();
  const output = document.getElementById('output')!;
  const status = document.getElementById('status')!;
  const threads = Number(field('threads').value);
  const request: RunRequest = {
    modelUrl: field('model').value,
    tokenizerUrl: field('tokenizer').value || undefined,
    prompt: field('prompt').value,
    maxTokens: Number(field('max-tokens').value),
    temperature: Number(field('temperature').value),
    threads,
    backend: (document.getElementById('backend') as HTMLSelectElement | null)?.value === 'webgpu' ? 'webgpu' : 'wasm',
  };
  output.textContent = '';
  status.textContent = 'running…';
  try {
    // the page's main thread may not block, so more than one thread means a worker
    const result = await llamaRun(request, threads > 1 || field('worker').checked, (text) => (output.textContent += text));
    output.textContent = result.text;
    status.textContent =
      `${result.tokens} tokens in ${result.seconds.toFixed(2)} s (${(result.tokens / result.seconds).toFixed(1)} tok/s), ` +
      (result.backend === 'wasm' ? `${result.threads} thread(s) in the ${result.where}, ${result.simd} SIMD` : `${result.backend} in the ${result.where}`);
  } catch (error) {
    status.textContent = `error: ${(error as Error).message}`;
  }
}

(globalThis as unknown as { llamaRun: typeof llamaRun }).llamaRun = llamaRun;
document.getElementById('form')?.addEventListener('submit', (e) => void onSubmit(e));
setUpChatMode(); // the chat toggle (off by default: the page generates from a prompt)
document.getElementById('status')!.textContent = crossOriginIsolated
  ? 'ready'
  : 'not cross-origin isolated: serve this page with COOP/COEP headers (node web/serve.mjs)';
