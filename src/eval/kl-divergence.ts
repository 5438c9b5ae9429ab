// KL divergence of a model Q (say Q4_0) from a base model P (say F32) over the same text, as
// llama-perplexity --kl-divergence reports it: at every scored position of the same chunks,
// KL(P‖Q) = Σ_v p_v (log p_v − log q_v) over the whole vocabulary, whether both models'
// most likely token is the same, and both perplexities with their ratio.
import { chunkLogits, chunkTarget, planChunks, type ChunkPlan } from './chunks.js';
import type { Evaluator } from './evaluator.js';
import { argmax, logitsRow, logSumExp } from './log-probs.js';
import type { LogitsReader } from './logits-file.js';
import type { ChunkProgress } from './perplexity.js';
import { median, percentile, RunningMean } from './stats.js';

export interface ValueWithError {
  value: number;
  error: number; // one standard error
}

export interface KlDivergenceResult {
  model: string; // Q
  baseModel: string; // P, as named in the logits file
  context: number;
  chunks: number;
  scored: number;
  pplQ: ValueWithError;
  pplBase: ValueWithError;
  lnPplCorrelation: number; // correlation of the per-token NLLs of Q and base
  lnPplRatio: ValueWithError; // mean ln(PPL(Q)/PPL(base))
  pplRatio: ValueWithError; // PPL(Q)/PPL(base)
  kl: ValueWithError; // mean KL divergence
  klPercentiles: { max: number; p99_9: number; p99: number; p95: number; p90: number; median: number; p10: number; p5: number; p1: number; min: number };
  sameTop: ValueWithError; // fraction of positions where both argmax tokens agree
  rmsDeltaP: number; // root mean square of p_Q(target) − p_base(target)
  seconds: number;
}

// Q's chunks must be the base's: same vocabulary, same tokens, same context.
export function planFromBase(ev: Evaluator, text: string, base: LogitsReader, source: string): ChunkPlan {
  const h = base.header;
  const V = ev.model.config.vocabSize;
  if (h.vocabSize !== V) throw new Error(`${base.path}: the base model (${h.model}) has a vocabulary of ${h.vocabSize}, this model ${V}`);
  const tokens = ev.tokenizer.encode(text, { bos: true });
  const plan = planChunks(tokens, h.context, h.chunks, source);
  if (plan.chunks !== h.chunks) throw new Error(`${source}: ${plan.chunks} chunks of ${h.context} tokens, but ${base.path} holds ${h.chunks}: not the same text`);
  for (let k = 0; k < base.tokens.length; k++) {
    if (base.tokens[k] !== tokens[k]) {
      throw new Error(`${base.path}: its token ${k} is ${base.tokens[k]}, ${source} gives ${tokens[k]} here: not the same text or tokenizer as the base run`);
    }
  }
  return plan;
}

export function klDivergence(
  ev: Evaluator, plan: ChunkPlan, base: LogitsReader, onChunk?: (p: ChunkProgress) => void,
): KlDivergenceResult {
  const V = ev.model.config.vocabSize;
  const nllQ = new RunningMean(), nllBase = new RunningMean(), kl = new RunningMean(), dp2 = new RunningMean();
  let nllProducts = 0, sameTop = 0;
  const klValues = new Float64Array(plan.chunks * plan.scoredPerChunk);
  const baseRow = new Float32Array(V); // [V] log p of the base
  const start = performance.now();
  for (let i = 0; i < plan.chunks; i++) {
    const logits = chunkLogits(ev, plan, i); // [N, V]
    for (let j = plan.first; j < plan.context - 1; j++) {
      const row = logitsRow(logits, j, V);
      const logZ = logSumExp(row);
      const target = chunkTarget(plan, i, j);
      const nb = base.row(i, j - plan.first, baseRow);
      const nq = logZ - row[target];
      let d = 0;
      for (let v = 0; v < V; v++) {
        const lp = baseRow[v];
        d += Math.exp(lp) * (lp - (row[v] - logZ));
      }
      klValues[nllQ.count] = d;
      kl.add(d);
      nllQ.add(nq);
      nllBase.add(nb);
      nllProducts += nq * nb;
      if (argmax(row) === argmax(baseRow)) sameTop++;
      const deltaP = Math.exp(-nq) - Math.exp(-nb);
      dp2.add(deltaP * deltaP);
    }
    const seconds = (performance.now() - start) / 1000;
    onChunk?.({ chunk: i + 1, chunks: plan.chunks, perplexity: Math.exp(nllQ.mean), seconds, secondsLeft: (seconds / (i + 1)) * (plan.chunks - i - 1) });
  }

  const n = nllQ.count;
  const cov = n > 1 ? (nllProducts / n - nllQ.mean * nllBase.mean) / (n - 1) : 0; // of the two means
  const lnRatio = nllQ.mean - nllBase.mean;
  const lnRatioError = Math.sqrt(Math.max(0, nllQ.stderr ** 2 + nllBase.stderr ** 2 - 2 * cov));
  const top = sameTop / n;
  klValues.sort();
  return {
    model: ev.modelName,
    baseModel: base.header.model,
    context: plan.context,
    chunks: plan.chunks,
    scored: n,
    pplQ: { value: Math.exp(nllQ.mean), error: Math.exp(nllQ.mean) * nllQ.stderr },
    pplBase: { value: Math.exp(nllBase.mean), error: Math.exp(nllBase.mean) * nllBase.stderr },
    lnPplCorrelation: nllQ.stderr && nllBase.stderr ? cov / (nllQ.stderr * nllBase.stderr) : 1,
    lnPplRatio: { value: lnRatio, error: lnRatioError },
    pplRatio: { value: Math.exp(lnRatio), error: Math.exp(lnRatio) * lnRatioError },
    kl: { value: kl.mean, error: kl.stderr },
    klPercentiles: {
      max: klValues[n - 1], p99_9: percentile(klValues, 0.999), p99: percentile(klValues, 0.99), p95: percentile(klValues, 0.95),
      p90: percentile(klValues, 0.9), median: median(klValues), p10: percentile(klValues, 0.1), p5: percentile(klValues, 0.05),
      p1: percentile(klValues, 0.01), min: klValues[0],
    },
    sameTop: { value: top, error: n > 1 ? Math.sqrt((top * (1 - top)) / (n - 1)) : 0 },
    rmsDeltaP: Math.sqrt(dp2.mean),
    seconds: (performance.now() - start) / 1000,
  };
}
