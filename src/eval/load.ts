// Loads a model for evaluation (src/llama.ts's loadLlama) and wraps it in an Evaluator; the
// caller closes it when done.
import { basename } from 'node:path';
import { defaultModelPath, loadLlama, type LoadOptions } from '../llama.js';
import { createEvaluator, type Evaluator } from './evaluator.js';

export interface LoadedEvaluator extends Evaluator {
  close(): Promise<void>;
}

export async function loadEvaluator(options: LoadOptions): Promise<LoadedEvaluator> {
  const llama = await loadLlama(options);
  const name = basename(options.model ?? defaultModelPath());
  return { ...createEvaluator(llama, name), close: () => llama.close() };
}
