// Reads task files and evaluates a model on each: what `llama-ts eval` calls.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { Evaluator } from './evaluator.js';
import { evaluateTask, type EvalOptions, type TaskResult } from './multiple-choice.js';
import { parseTask, type Task } from './tasks.js';

export function readTask(file: string): Task {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`${file}: cannot read the task file (${(e as Error).message})`);
  }
  return parseTask(text, file, basename(file).replace(/\.jsonl$/, ''));
}

export function evaluateTaskFiles(ev: Evaluator, files: string[], options: EvalOptions & { shotsFile?: string } = {}): TaskResult[] {
  const tasks = files.map(readTask); // every file checked before the first is scored
  const shotsPool = options.shotsFile ? readTask(options.shotsFile).items : undefined;
  return tasks.map((t) => evaluateTask(ev, t, { ...options, shotsPool }));
}
