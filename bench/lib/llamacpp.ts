// llama.cpp through node-llama-cpp (its prebuilt CPU binary), driven the way its own API
// generates: a context with the same thread count as ours, one sequence, greedy sampling.
// Prompt processing is one evaluateWithoutGeneratingNewTokens call over the whole prompt
// (batch size ≥ the prompt, so it is one llama_decode); decoding is the evaluate()
// generator, timed from the first generated token on, so only single-token steps count.
import { getLlama, LlamaLogLevel, type Llama, type LlamaContext, type LlamaContextSequence, type LlamaModel, type Token } from 'node-llama-cpp';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './paths.js';
import type { DecodeTiming } from './ours.js';
import { seconds } from './stats.js';

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules', 'node-llama-cpp', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export interface LlamaCppInfo {
  nodeLlamaCpp: string; // package version
  release: string; // llama.cpp release node-llama-cpp was built from
  buildType: string; // prebuilt or localBuild
  systemInfo: string; // ggml's CPU feature line (AVX2, FMA, ...)
}

export async function startLlamaCpp(): Promise<{ llama: Llama; info: LlamaCppInfo }> {
  // maxThreads 0: a context's `threads` is then exactly the number used.
  const llama = await getLlama({ gpu: false, build: 'never', maxThreads: 0, logLevel: LlamaLogLevel.error });
  const r = llama.llamaCppRelease;
  return { llama, info: { nodeLlamaCpp: packageVersion(), release: `${r.repo}@${r.release}`, buildType: llama.buildType, systemInfo: llama.systemInfo } };
}

export interface TheirEngine {
  model: LlamaModel;
  context: LlamaContext;
  sequence: LlamaContextSequence;
  threads: number; // what the context reports using
  kvCacheType: string; // ggml type of the KV cache (llama.cpp's default, F16)
  close(): Promise<void>;
}

export async function openLlamaCpp(llama: Llama, ggufPath: string, threads: number, contextLength: number, batchSize: number): Promise<TheirEngine> {
  const model = await llama.loadModel({ modelPath: ggufPath });
  const context = await model.createContext({
    contextSize: contextLength, batchSize, sequences: 1, threads: { ideal: threads, min: threads },
  });
  const sequence = context.getSequence();
  return {
    model, context, sequence,
    threads: context.idealThreads,
    kvCacheType: ggmlTypeName(context.kvCacheKeyType),
    close: async () => {
      await context.dispose();
      await model.dispose();
    },
  };
}

function ggmlTypeName(type: number): string {
  return ({ 0: 'F32', 1: 'F16', 2: 'Q4_0', 8: 'Q8_0' } as Record<number, string>)[type] ?? `ggml type ${type}`;
}

export async function theirPromptSeconds(e: TheirEngine, prompt: readonly number[]): Promise<number> {
  await e.sequence.clearHistory();
  const t0 = seconds();
  await e.sequence.evaluateWithoutGeneratingNewTokens(prompt as Token[]);
  return seconds() - t0;
}

// The prompt and its first predicted token untimed, then greedy single-token steps: `steps`
// of them, or as many as fit in `maxSeconds` (each next() evaluates the token it yielded
// last and samples the next one).
export async function theirDecodeSeconds(e: TheirEngine, prompt: readonly number[], steps: number, maxSeconds = Infinity): Promise<DecodeTiming> {
  await e.sequence.clearHistory();
  const generator = e.sequence.evaluate(prompt as Token[], { temperature: 0 });
  const first = await generator.next();
  if (first.done) throw new Error('llama.cpp: evaluate() ended before the first token');
  const tokens: number[] = [first.value];
  const t0 = seconds();
  let done = 0;
  while (done < steps && seconds() - t0 < maxSeconds) {
    const step = await generator.next();
    if (step.done) throw new Error(`llama.cpp: evaluate() ended after ${tokens.length} tokens`);
    done++;
    if (done < steps) tokens.push(step.value); // as ours: the last step's prediction is not kept
  }
  const elapsed = seconds() - t0;
  await generator.return();
  return { seconds: elapsed, steps: done, tokens: tokens.slice(0, done) };
}
