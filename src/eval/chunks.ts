// llama.cpp's perplexity chunks: the text tokenized once (BOS first), cut into non-overlapping
// chunks of N tokens (a tail shorter than N is dropped), each chunk run from position 0 with
// its first token replaced by BOS, and only the second half scored: row j of the chunk's
// logits, for j in first .. N−2 with first = ⌊N/2⌋, predicts chunk token j+1. So every scored
// token has at least N/2 tokens of context, and a chunk scores N − 1 − ⌊N/2⌋ tokens.
import { logitsAt, type Evaluator } from './evaluator.js';

export interface ChunkPlan {
  tokens: number[]; // the whole text's tokens, BOS first
  context: number; // N, tokens per chunk
  chunks: number; // how many chunks are evaluated
  first: number; // ⌊N/2⌋: the first scored row of a chunk
  scoredPerChunk: number; // N − 1 − first
}

export function planChunks(tokens: number[], context: number, maxChunks: number | undefined, source: string): ChunkPlan {
  if (!Number.isInteger(context) || context < 4) throw new Error(`the context must be an integer of at least 4 tokens, got ${context}`);
  if (tokens.length < context) {
    throw new Error(`${source}: the text is ${tokens.length} tokens long, shorter than one chunk of ${context} tokens`);
  }
  let chunks = Math.floor(tokens.length / context);
  if (maxChunks !== undefined) {
    if (!Number.isInteger(maxChunks) || maxChunks < 1) throw new Error(`the number of chunks must be a positive integer, got ${maxChunks}`);
    chunks = Math.min(chunks, maxChunks);
  }
  const first = Math.floor(context / 2);
  return { tokens, context, chunks, first, scoredPerChunk: context - 1 - first };
}

// Chunk i's tokens as they are evaluated: [N], the first one BOS.
export function chunkInput(plan: ChunkPlan, i: number, bosId: number): number[] {
  const input = plan.tokens.slice(i * plan.context, (i + 1) * plan.context);
  input[0] = bosId;
  return input;
}

// The token chunk row j predicts (the text's own token, never the BOS replacement).
export function chunkTarget(plan: ChunkPlan, i: number, j: number): number {
  return plan.tokens[i * plan.context + j + 1];
}

// Chunk i through the prompt path, one forward call from position 0: logits [N, V].
export function chunkLogits(ev: Evaluator, plan: ChunkPlan, i: number): Float32Array {
  if (plan.context > ev.cache.capacity) {
    throw new Error(`a chunk of ${plan.context} tokens does not fit the context of ${ev.cache.capacity} the model was loaded with`);
  }
  return logitsAt(ev, chunkInput(plan, i, ev.tokenizer.vocab.bosId), 0);
}
