// The explorer page (explorer.ts) and its worker (explorer-worker.ts): the worker holds the
// model and runs the reference forward pass with its trace for the current step only, so the
// page stays responsive. Requests are answered in order, one reply each.
import type { ExplainStep, StepShape } from '../src/explain/index.js';

export type ExplorerRequest =
  | { type: 'load'; modelUrl: string; tokenizerUrl?: string }
  | { type: 'encode'; prompt: string }
  | { type: 'step'; tokens: number[] };

export type ExplorerReply =
  | { type: 'loaded'; pieces: string[]; endIds: number[]; shape: StepShape; contextLength: number }
  | { type: 'encoded'; tokens: number[] }
  | { type: 'step'; step: ExplainStep; ms: number }
  | { type: 'error'; message: string };
