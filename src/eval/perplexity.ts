// Perplexity as llama.cpp's llama-perplexity computes it (see chunks.ts for the chunks):
// PPL = exp(mean NLL) over every scored token, printed running after each chunk, with the
// uncertainty exp(mean) · stderr(NLL) of the final value.
import { chunkLogits, chunkTarget, planChunks, type ChunkPlan } from './chunks.js';
import type { Evaluator } from './evaluator.js';
import { logitsRow, logSumExp } from './log-probs.js';
import { RunningMean } from './stats.js';

export interface ChunkProgress {
  chunk: number; // 1-based, chunks done
  chunks: number;
  perplexity: number; // running, over all chunks so far
  seconds: number; // elapsed
  secondsLeft: number; // estimated from the pace so far
}

export interface PerplexityOptions {
  context?: number; // N tokens per chunk (default: the evaluator's context)
  chunks?: number; // at most this many chunks
  onChunk?(progress: ChunkProgress): void;
  // Sees every scored row of each chunk: logits [V] and the token it should predict.
  onScoredRow?(row: Float32Array, target: number): void;
}

export interface PerplexityResult {
  model: string;
  tokens: number; // the text's tokens, BOS included
  context: number;
  chunks: number;
  scored: number; // tokens scored
  nll: number; // mean negative log-likelihood (nats a token)
  perplexity: number;
  uncertainty: number; // ± of the perplexity: exp(mean) · stderr of the NLL
  running: number[]; // the running perplexity after each chunk
  seconds: number;
  tokensPerSecond: number; // tokens through the model (chunks × N) a second
}

export function tokenizeForPerplexity(ev: Evaluator, text: string): number[] {
  return ev.tokenizer.encode(text, { bos: true });
}

export function perplexity(ev: Evaluator, text: string, source: string, options: PerplexityOptions = {}): PerplexityResult {
  const plan = planChunks(tokenizeForPerplexity(ev, text), options.context ?? ev.cache.capacity, options.chunks, source);
  return perplexityOfPlan(ev, plan, options);
}

export function perplexityOfPlan(ev: Evaluator, plan: ChunkPlan, options: PerplexityOptions = {}): PerplexityResult {
  const V = ev.model.config.vocabSize;
  const nll = new RunningMean();
  const running: number[] = [];
  const start = performance.now();
  for (let i = 0; i < plan.chunks; i++) {
    const logits = chunkLogits(ev, plan, i); // [N, V]
    for (let j = plan.first; j < plan.context - 1; j++) {
      const row = logitsRow(logits, j, V);
      const target = chunkTarget(plan, i, j);
      nll.add(logSumExp(row) - row[target]);
      options.onScoredRow?.(row, target);
    }
    running.push(Math.exp(nll.mean));
    const seconds = (performance.now() - start) / 1000;
    options.onChunk?.({ chunk: i + 1, chunks: plan.chunks, perplexity: running[i], seconds, secondsLeft: (seconds / (i + 1)) * (plan.chunks - i - 1) });
  }
  const seconds = (performance.now() - start) / 1000;
  const ppl = Math.exp(nll.mean);
  return {
    model: ev.modelName,
    tokens: plan.tokens.length,
    context: plan.context,
    chunks: plan.chunks,
    scored: nll.count,
    nll: nll.mean,
    perplexity: ppl,
    uncertainty: ppl * nll.stderr,
    running,
    seconds,
    tokensPerSecond: (plan.chunks * plan.context) / seconds,
  };
}
