// One run of the page: fetch a model (and tokenizer), load it on the WASM (or WebGPU) backend, generate.
// The page's script (app.ts) calls it on the main thread with one kernel thread; the model
// worker (model-worker.ts) calls it inside a Web Worker, where kernel threads may block.
import { loadLlamaFromBytes, type SimdBuild, type SimdChoice } from '../src/browser.js';

export interface RunRequest {
  modelUrl: string; // GGUF or llama2.c file
  tokenizerUrl?: string; // needed for a llama2.c model (e.g. tok512.bin)
  prompt: string;
  maxTokens: number;
  temperature: number; // 0 = greedy
  threads: number; // kernel threads, this one included
  simd?: SimdChoice;
  minParallelWork?: number; // split matmuls across threads from this many multiply-adds (0: always)
  backend?: 'wasm' | 'webgpu'; // default wasm; webgpu runs the model on the GPU (navigator.gpu)
}

export interface RunResult {
  text: string; // the prompt, then what was generated (as the CLI prints it, without its last newline)
  tokens: number; // generated
  seconds: number;
  simd: SimdBuild | 'none'; // the WASM build that ran ('none' on webgpu)
  backend: string; // 'wasm', or 'webgpu (the adapter)'
  threads: number;
  parallelJobs: number; // kernel calls that ran split across the threads
  where: 'page' | 'worker';
  weightTypes: string[]; // the storage types of the matrices as the kernels hold them, sorted
  notes: string[]; // the backend's notes on the model (e.g. matrices widened to f16)
}

// Posted back by the model worker: a result or an error message.
export type WorkerReply = { ok: true; result: RunResult } | { ok: false; error: string };

async function fetchBytes(url: string): Promise<ArrayBuffer> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.arrayBuffer();
}

export async function run(request: RunRequest, where: RunResult['where'], onText?: (text: string) => void): Promise<RunResult> {
  const [model, tokenizer] = await Promise.all([fetchBytes(request.modelUrl), request.tokenizerUrl ? fetchBytes(request.tokenizerUrl) : undefined]);
  const options = { model, modelName: request.modelUrl, tokenizer, tokenizerName: request.tokenizerUrl };
  const llama = request.backend === 'webgpu'
    ? await loadLlamaFromBytes({ ...options, backend: 'webgpu' })
    : await loadLlamaFromBytes({ ...options, threads: request.threads, simd: request.simd, minParallelWork: request.minParallelWork });
  const wasm = 'simd' in llama.kernels ? llama.kernels : undefined;
  try {
    const start = performance.now();
    let text = request.prompt;
    let tokens = 0;
    onText?.(text);
    for await (const chunk of llama.generateChunks(request.prompt, { maxTokens: request.maxTokens, temperature: request.temperature })) {
      if (!chunk.done) tokens++;
      text += chunk.text;
      if (chunk.text) onText?.(chunk.text);
    }
    const seconds = (performance.now() - start) / 1000;
    const backend = wasm ? 'wasm' : `webgpu (${(llama.kernels as { adapterName?: string }).adapterName})`;
    const w = llama.model.weights;
    const weightTypes = [...new Set([w.output, ...w.layers.flatMap((l) => [l.wq, l.wk, l.wv, l.wo, l.w1, l.w2, l.w3])].map((t) => t.dtype))].sort();
    const notes = wasm?.notes ?? [];
    return { text, tokens, seconds, simd: wasm?.simd ?? 'none', threads: wasm?.threads ?? 1, parallelJobs: wasm?.parallelJobs() ?? 0, where, backend, weightTypes, notes };
  } finally {
    await llama.close();
  }
}
