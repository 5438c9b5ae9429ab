// The evaluation API: perplexity and KL divergence as llama.cpp computes them, multiple-choice
// tasks as lm-evaluation-harness scores them. (loadEvaluator, from a model path, is src/llama.ts's.)
export { createEvaluator, type Evaluator } from './evaluator.js';
export { sequenceLoss, type Sequences } from './sequence-loss.js';
export { planChunks, type ChunkPlan } from './chunks.js';
export { perplexity, perplexityOfPlan, type PerplexityOptions, type PerplexityResult, type ChunkProgress } from './perplexity.js';
export { LogitsWriter, LogitsReader, logitsHeaderFor, type LogitsHeader } from './logits-file.js';
export { klDivergence, planFromBase, type KlDivergenceResult } from './kl-divergence.js';
export { parseTask, type Task, type TaskItem, type TaskShape } from './tasks.js';
export { evaluateTask, type EvalOptions, type TaskResult, type ItemResult, type Scoring } from './multiple-choice.js';
export { readTask, evaluateTaskFiles } from './run-eval.js';
export { formatPerplexity, formatKlDivergence, formatEval, formatProgress } from './report.js';
