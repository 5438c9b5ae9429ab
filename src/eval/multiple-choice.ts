// Multiple-choice evaluation by likelihood, as lm-evaluation-harness scores it, and the
// LLaMA paper's rule (§3) beside it:
//
//   acc        the choice with the largest log P(continuation | context)
//   acc_norm   ... divided by the choice's length in characters (Unicode code points)
//   acc_bytes  ... divided by its length in UTF-8 bytes
//   acc_paper  (--scoring paper) acc_norm, except BoolQ and OpenBookQA, where the choice
//              with the largest log P(c | context) − log P(c | "Answer:") wins
//
// Each is a mean of 0/1 over items, with the standard error stddev/√n (n−1 in the variance).
// Few-shot: K solved items (the right choice completed), each "context continuation", joined
// and followed by the item's context with "\n\n", drawn with a fixed seed from --shots-file
// or else from the task itself without the item being scored.
import { Rng } from '../../reference/random.js';
import type { Evaluator } from './evaluator.js';
import { scoreItem, tokenizeRequest, type TokenizedRequest } from './likelihood.js';
import { argmax } from './log-probs.js';
import { RunningMean } from './stats.js';
import type { Task, TaskItem } from './tasks.js';

export type Scoring = 'harness' | 'paper';

export interface EvalOptions {
  shots?: number; // K few-shot examples (default 0)
  shotsPool?: TaskItem[]; // where shots come from (default: the task's other items)
  seed?: number; // for drawing shots (default 1234, lm-evaluation-harness's)
  scoring?: Scoring; // 'paper' adds acc_paper (default 'harness')
  reuseContext?: boolean; // run each item's shared context once (default true)
  limit?: number; // the first N items only
  onItem?(done: number, total: number): void;
}

export interface ItemResult {
  line: number;
  gold: number;
  logLikelihoods: number[]; // per choice, summed over its tokens
  tokens: number[]; // per choice, its continuation's token count
  unconditional?: number[]; // paper scoring: log P(choice | "Answer:")
  correct: { acc: boolean; acc_norm: boolean; acc_bytes: boolean; acc_paper?: boolean };
}

export interface Metric {
  value: number;
  stderr: number;
}

export interface TaskResult {
  task: string;
  shape: string;
  items: number;
  shots: number;
  scoring: Scoring;
  acc: Metric;
  acc_norm: Metric;
  acc_bytes: Metric;
  acc_paper?: Metric;
  chance: number; // mean of 1 / choices: the expected acc of guessing
  cut: number; // items whose context was cut from the left to fit the model's context
  tokensRun: number; // through the model
  tokensFromScratch: number; // had each choice been run from position 0
  seconds: number;
  results: ItemResult[];
}

const PAPER_UNCONDITIONAL = new Set(['boolq', 'openbookqa']);

export function evaluateTask(ev: Evaluator, task: Task, options: EvalOptions = {}): TaskResult {
  const shots = options.shots ?? 0;
  const scoring = options.scoring ?? 'harness';
  const reuse = options.reuseContext ?? true;
  const unconditional = scoring === 'paper' && PAPER_UNCONDITIONAL.has(task.shape);
  if (!Number.isInteger(shots) || shots < 0) throw new Error(`the number of shots must be a non-negative integer, got ${shots}`);
  const pool = options.shotsPool ?? task.items;
  if (shots > 0 && pool.length - (options.shotsPool ? 0 : 1) < shots) throw new Error(`${shots} shots asked for, but only ${pool.length} items to draw them from`);
  const items = options.limit ? task.items.slice(0, options.limit) : task.items;
  const rng = new Rng(options.seed ?? 1234);
  const metrics = { acc: new RunningMean(), acc_norm: new RunningMean(), acc_bytes: new RunningMean(), acc_paper: new RunningMean() };
  let cut = 0, tokensRun = 0, tokensFromScratch = 0, chance = 0;
  const results: ItemResult[] = [];
  const start = performance.now();

  for (const item of items) {
    const where = `${task.file}:${item.line}`;
    const prefix = shots ? drawShots(pool, shots, options.shotsPool ? undefined : item, rng).map(solved).join('\n\n') + '\n\n' : '';
    const requests = item.requests.map((r) => tokenizeRequest(ev, { context: prefix + r.context, continuation: r.continuation }, where));
    const scored = scoreItem(ev, requests, where, reuse);
    const ll = scored.logLikelihoods;
    if (scored.cutTokens) cut++;
    tokensRun += scored.tokensRun;
    tokensFromScratch += scored.tokensFromScratch;
    let uncond: number[] | undefined;
    if (unconditional) {
      const u = scoreItem(ev, item.requests.map((r) => tokenizeRequest(ev, { context: 'Answer:', continuation: r.continuation }, where)), where, reuse);
      uncond = u.logLikelihoods;
      tokensRun += u.tokensRun;
      tokensFromScratch += u.tokensFromScratch;
    }
    const chars = item.requests.map((r) => [...r.normText].length || 1);
    const bytes = item.requests.map((r) => Buffer.byteLength(r.normText, 'utf8') || 1);
    const normed = ll.map((x, i) => x / chars[i]);
    const correct: ItemResult['correct'] = {
      acc: argmax(ll) === item.gold,
      acc_norm: argmax(normed) === item.gold,
      acc_bytes: argmax(ll.map((x, i) => x / bytes[i])) === item.gold,
    };
    if (scoring === 'paper') correct.acc_paper = argmax(uncond ? ll.map((x, i) => x - uncond![i]) : normed) === item.gold;
    for (const key of Object.keys(correct) as (keyof typeof correct)[]) metrics[key].add(correct[key] ? 1 : 0);
    chance += 1 / item.requests.length;
    results.push({ line: item.line, gold: item.gold, logLikelihoods: ll, tokens: requests.map((r: TokenizedRequest) => r.continuation.length), unconditional: uncond, correct });
    options.onItem?.(results.length, items.length);
  }

  const metric = (m: RunningMean): Metric => ({ value: m.mean, stderr: m.stderr });
  return {
    task: task.name, shape: task.shape, items: items.length, shots, scoring,
    acc: metric(metrics.acc), acc_norm: metric(metrics.acc_norm), acc_bytes: metric(metrics.acc_bytes),
    acc_paper: scoring === 'paper' ? metric(metrics.acc_paper) : undefined,
    chance: chance / items.length, cut, tokensRun, tokensFromScratch,
    seconds: (performance.now() - start) / 1000, results,
  };
}

// K distinct items of the pool, none of them `exclude`.
export function drawShots(pool: TaskItem[], k: number, exclude: TaskItem | undefined, rng: Rng): TaskItem[] {
  const candidates = exclude ? pool.filter((x) => x !== exclude) : [...pool];
  for (let i = 0; i < k; i++) { // partial Fisher-Yates
    const j = i + (rng.nextU32() % (candidates.length - i));
    [candidates[i], candidates[j]] = [candidates[j], candidates[i]];
  }
  return candidates.slice(0, k);
}

// A solved item as a shot: its context completed with the right continuation.
export function solved(item: TaskItem): string {
  const r = item.requests[item.gold];
  return r.context + r.continuation;
}
