// Log-likelihoods of continuations given contexts, lm-evaluation-harness's loglikelihood:
// log P(continuation | context) = Σ over the continuation's tokens of log p(token | all before).
//
// Tokens as the harness makes them: trailing spaces of the context move to the continuation;
// the context is encoded alone (BOS first, as LLaMA was evaluated), the continuation's tokens
// are those of encode(context + continuation) past the context's; the model sees
// context ++ continuation. A sequence longer than the cache is cut from the left (BOS kept).
//
// The contexts of one item share a prefix (all of it, except WinoGrande's), run once: each
// choice then continues from that cached prefix at its position. The cache is causal, so
// writing a choice's rows past the prefix leaves the prefix's rows as they were: the next
// choice overwrites the previous one's, which is the cache "truncated back" to the prefix.
import { forward } from '../../reference/model.js';
import { logitsAt, type Evaluator } from './evaluator.js';
import { logitsRow, tokenLogProb } from './log-probs.js';

export interface Request {
  context: string;
  continuation: string;
}

export interface TokenizedRequest {
  context: number[]; // BOS first
  continuation: number[]; // at least one token
}

export function tokenizeRequest(ev: Evaluator, r: Request, where: string): TokenizedRequest {
  let { context, continuation } = r;
  const spaces = context.length - context.trimEnd().length;
  if (spaces > 0) {
    continuation = context.slice(context.length - spaces) + continuation;
    context = context.slice(0, context.length - spaces);
  }
  const ctx = ev.tokenizer.encode(context, { bos: true });
  const whole = ev.tokenizer.encode(context + continuation, { bos: true });
  const cont = whole.slice(ctx.length);
  if (cont.length === 0) throw new Error(`${where}: the continuation ${JSON.stringify(continuation)} adds no tokens to its context`);
  return { context: ctx, continuation: cont };
}

export interface Scored {
  logLikelihoods: number[]; // one per request
  cutTokens: number; // context tokens dropped from the left to fit the cache (0: none)
  tokensRun: number; // tokens through the model
  tokensFromScratch: number; // what running every request from position 0 would have taken
}

// Scores the requests of one item, sharing their common context prefix when reuse is on.
export function scoreItem(ev: Evaluator, requests: TokenizedRequest[], where: string, reuse = true): Scored {
  const C = ev.cache.capacity;
  const longestCont = Math.max(...requests.map((r) => r.continuation.length));
  if (longestCont > C - 1) throw new Error(`${where}: a continuation of ${longestCont} tokens does not fit the context of ${C} (with one context token)`);
  // One cut for every request (so that a shared context stays shared): the longest sequence fits.
  const cut = Math.max(0, Math.max(...requests.map((r) => r.context.length + r.continuation.length - 1)) - C);
  const seqs = requests.map((r) => {
    const ctx = cut ? [r.context[0], ...r.context.slice(1 + Math.min(cut, r.context.length - 1))] : r.context;
    return { ctxLength: ctx.length, tokens: [...ctx, ...r.continuation] };
  });
  const tokensFromScratch = seqs.reduce((n, s) => n + s.tokens.length - 1, 0);
  if (!reuse) {
    return { logLikelihoods: seqs.map((s) => continuationLogLikelihood(ev, s.tokens, s.ctxLength, 0, undefined)), cutTokens: cut, tokensRun: tokensFromScratch, tokensFromScratch };
  }
  const p = commonPrefixLength(seqs.map((s) => s.tokens.slice(0, s.ctxLength)));
  const prefixLast = forward(ev.model, ev.kernels, ev.cache, seqs[0].tokens.slice(0, p), 0); // [V], predicts position p
  let tokensRun = p;
  const logLikelihoods = seqs.map((s) => {
    tokensRun += s.tokens.length - 1 - p;
    return continuationLogLikelihood(ev, s.tokens, s.ctxLength, p, prefixLast);
  });
  return { logLikelihoods, cutTokens: cut, tokensRun, tokensFromScratch };
}

// Σ log p(tokens[q+1] | tokens[..q]) for q from ctxLength−1 to the end, running tokens[p..] from
// position p (positions below p already cached, prefixLast their last logits row [V]).
function continuationLogLikelihood(ev: Evaluator, tokens: number[], ctxLength: number, p: number, prefixLast: Float32Array | undefined): number {
  const V = ev.model.config.vocabSize;
  const rest = tokens.slice(p, tokens.length - 1);
  const rows = rest.length ? logitsAt(ev, rest, p) : new Float32Array(0); // [len−1−p, V]: rows of positions p..len−2
  let sum = 0;
  for (let q = ctxLength - 1; q < tokens.length - 1; q++) {
    const row = q === p - 1 ? prefixLast! : logitsRow(rows, q - p, V);
    sum += tokenLogProb(row, tokens[q + 1]);
  }
  return sum;
}

function commonPrefixLength(seqs: number[][]): number {
  let n = Math.min(...seqs.map((s) => s.length));
  for (const s of seqs) {
    let i = 0;
    while (i < n && s[i] === seqs[0][i]) i++;
    n = i;
  }
  return n;
}
