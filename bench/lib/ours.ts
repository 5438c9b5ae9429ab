// llama-ts as the end-to-end bench drives it, the way loadLlama does (src/llama.ts): the
// GGUF read by our loader, the weights placed in WASM memory by createModelKernels with the
// thread count asked for, the KV cache beside them, forward() per step, argmax to pick.
import { forward, type KVCache } from '../../reference/model.js';
import type { LlamaModel } from '../../reference/weights.js';
import { createModelKernels, type WasmKernels } from '../../src/backends/wasm/kernels.js';
import { loadModel } from '../../src/formats/load-file.js';
import { argmax } from '../../src/generate/sampler.js';
import { seconds } from './stats.js';

export interface OurEngine {
  model: LlamaModel;
  kernels: WasmKernels;
  cache: KVCache;
  threadsInUse: number; // what the kernels report running with
  close(): Promise<void>;
}

export async function openOurs(ggufPath: string, wasmPath: string, threads: number, contextLength: number): Promise<OurEngine> {
  const { model } = loadModel(ggufPath);
  const kernels = await createModelKernels(model, { wasmPath, threads, contextLength });
  const cache = kernels.createKVCache(model.config, contextLength);
  return { model, kernels, cache, threadsInUse: kernels.threads, close: () => kernels.close() };
}

// Seconds for one forward call over the whole prompt, from position 0.
export function ourPromptSeconds(e: OurEngine, prompt: readonly number[]): number {
  const t0 = seconds();
  forward(e.model, e.kernels, e.cache, prompt, 0);
  return seconds() - t0;
}

export interface DecodeTiming {
  seconds: number; // for all timed steps
  steps: number; // decode steps timed: `steps`, or fewer when maxSeconds ran out
  tokens: number[]; // the greedy tokens, the prompt's prediction first
}

// Feeds the prompt (untimed), then times greedy decode steps (forward of one token +
// argmax): `steps` of them, or as many as fit in `maxSeconds`.
export function ourDecodeSeconds(e: OurEngine, prompt: readonly number[], steps: number, maxSeconds = Infinity): DecodeTiming {
  let next = argmax(forward(e.model, e.kernels, e.cache, prompt, 0));
  const tokens: number[] = [];
  const t0 = seconds();
  for (let pos = prompt.length; tokens.length < steps && seconds() - t0 < maxSeconds; pos++) {
    tokens.push(next);
    next = argmax(forward(e.model, e.kernels, e.cache, [next], pos));
  }
  return { seconds: seconds() - t0, steps: tokens.length, tokens };
}
