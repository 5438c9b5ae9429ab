// One run of the page: fetch a model (and tokenizer), load it on the WASM backend, generate.
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
}

export interface RunResult {
  text: string; // the prompt, then what was generated (as the CLI prints it, without its last newline)
  tokens: number; // generated
  seconds: number;
  simd: SimdBuild; // the WASM build that ran
  threads: number;
  parallelJobs: number; // kernel calls that ran split across the threads
  where: 'page' | 'worker';
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
  const llama = await loadLlamaFromBytes({
    model, modelName: request.modelUrl, tokenizer, tokenizerName: request.tokenizerUrl, threads: request.threads, simd: request.simd,
    minParallelWork: request.minParallelWork,
  });
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
    return { text, tokens, seconds, simd: llama.kernels.simd, threads: llama.kernels.threads, parallelJobs: llama.kernels.parallelJobs(), where };
  } finally {
    await llama.close();
  }
}
