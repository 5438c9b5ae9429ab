// Token sequences the benches feed both engines.
import { seededUniform } from '../../reference/random.js';

const FIRST_NORMAL_ID = 3; // LLaMA: 0 unk, 1 bos, 2 eos are control tokens

// BOS, then `length - 1` seeded ids drawn from the vocabulary's ordinary tokens.
export function benchPrompt(length: number, vocabSize: number, seed: number): number[] {
  if (!Number.isSafeInteger(length) || length < 1) throw new Error(`benchPrompt: bad length ${length}`);
  if (vocabSize <= FIRST_NORMAL_ID) throw new Error(`benchPrompt: vocabulary of ${vocabSize} has no ordinary tokens`);
  const uniform = seededUniform(seed);
  const tokens = [1];
  while (tokens.length < length) tokens.push(FIRST_NORMAL_ID + Math.floor(uniform() * (vocabSize - FIRST_NORMAL_ID)));
  return tokens;
}

// How many leading tokens two generations share.
export function leadingAgreement(a: readonly number[], b: readonly number[]): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}
