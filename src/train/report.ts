// What a run tells its user: a progress line on stderr per step (redrawn in place with \r on
// a terminal, one line per step otherwise), log.json with every step and evaluation, and the
// pictures of it (plot.ts): loss.svg (training and validation loss), perplexity.svg (validation
// perplexity), grad-norm.svg (global and per-part gradient norms), lr.svg (learning rate).
import { join } from 'node:path';
import { writeTextAtomic } from '../io/atomic-file.js';
import { chartSvg, type Series } from './plot.js';

export interface StepRecord {
  step: number;
  loss: number; // mean training loss of the step's batch, before its update
  lr: number;
  gradNorm: number; // before clipping
  groupGradNorms?: number[]; // per part (TrainLog.gradNormGroups), before clipping
  tokensPerSecond: number;
  elapsedSeconds: number; // training time since the run began (all sessions)
}

export interface EvalRecord {
  step: number;
  valLoss: number; // mean over the fixed validation batches
  valPerplexity?: number; // exp(valLoss)
}

export interface TrainLog {
  gradNormGroups?: string[]; // what StepRecord.groupGradNorms holds: tok_embeddings, layers.0 …, output
  steps: StepRecord[];
  evals: EvalRecord[];
}

// The pictures writeLogFiles makes, next to log.json.
export const CHART_FILES = ['loss.svg', 'perplexity.svg', 'grad-norm.svg', 'lr.svg'] as const;

// "1:02:03" / "2:03"
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

export function progressLine(r: StepRecord, totalSteps: number, secondsLeft: number): string {
  const width = String(totalSteps).length;
  return `step ${String(r.step).padStart(width)}/${totalSteps}  loss ${r.loss.toFixed(4)}  lr ${r.lr.toExponential(2)}  ` +
    `|g| ${r.gradNorm.toFixed(3)}  ${Math.round(r.tokensPerSecond)} tok/s  ${formatDuration(r.elapsedSeconds)} elapsed  ${formatDuration(secondsLeft)} left`;
}

export class Reporter {
  private drawn = false; // a \r line is on screen and needs a newline before other text

  constructor(
    private readonly stream: NodeJS.WriteStream | null, // null: silent
  ) {}

  private get tty(): boolean {
    return Boolean(this.stream?.isTTY);
  }

  progress(line: string): void {
    if (!this.stream) return;
    if (this.tty) {
      this.stream.write(`\r${line}\x1b[K`);
      this.drawn = true;
    } else {
      this.stream.write(line + '\n');
    }
  }

  // A line that stays (evaluations, checkpoints, notes).
  line(text: string): void {
    if (!this.stream) return;
    if (this.drawn) this.stream.write('\n');
    this.drawn = false;
    this.stream.write(text + '\n');
  }
}

export function lossSeries(log: TrainLog): Series[] {
  return [
    { label: 'train', color: '#1f77b4', points: log.steps.map((s): [number, number] => [s.step, s.loss]) },
    { label: 'validation', color: '#d62728', points: log.evals.map((e): [number, number] => [e.step, e.valLoss]) },
  ];
}

export function perplexitySeries(log: TrainLog): Series[] {
  return [{ label: 'validation', color: '#d62728', points: log.evals.map((e): [number, number] => [e.step, e.valPerplexity ?? Math.exp(e.valLoss)]) }];
}

// The global norm in black, the embedding green, the head brown, the blocks blue (first) over
// purple to red (last), no green among them.
export function gradNormSeries(log: TrainLog): Series[] {
  const groups = log.gradNormGroups ?? [];
  const layers = groups.filter((g) => g.startsWith('layers.')).length;
  const color = (g: string) => {
    if (g === 'tok_embeddings') return '#2ca02c';
    if (g === 'output') return '#8c564b';
    const l = Number(g.slice('layers.'.length));
    return `hsl(${Math.round(220 + (140 * l) / Math.max(1, layers - 1)) % 360},70%,48%)`;
  };
  const perGroup = groups.map((g, i): Series => ({
    label: g === 'output' ? 'norm + output' : g, color: color(g), width: 1,
    points: log.steps.filter((s) => s.groupGradNorms).map((s): [number, number] => [s.step, s.groupGradNorms![i]]),
  }));
  return [{ label: 'global', color: '#000', width: 2, points: log.steps.map((s): [number, number] => [s.step, s.gradNorm]) }, ...perGroup];
}

export function lrSeries(log: TrainLog): Series[] {
  return [{ label: 'learning rate', color: '#ff7f0e', points: log.steps.map((s): [number, number] => [s.step, s.lr]) }];
}

// The pictures of a log, by file name.
export function charts(log: TrainLog): Record<(typeof CHART_FILES)[number], string> {
  return {
    'loss.svg': chartSvg(lossSeries(log), { title: 'llama-ts training loss', yLabel: 'cross-entropy loss (nats)' }),
    'perplexity.svg': chartSvg(perplexitySeries(log), { title: 'validation perplexity', yLabel: 'perplexity', logY: true }),
    'grad-norm.svg': chartSvg(gradNormSeries(log), { title: 'gradient norms before clipping', yLabel: '2-norm', logY: true }),
    'lr.svg': chartSvg(lrSeries(log), { title: 'learning rate', yLabel: 'learning rate', yFromZero: true }),
  };
}

// log.json and the pictures in `dir`, each replaced atomically.
export function writeLogFiles(dir: string, log: TrainLog, header: Record<string, unknown>): void {
  writeTextAtomic(join(dir, 'log.json'), JSON.stringify({ ...header, gradNormGroups: log.gradNormGroups, steps: log.steps, evals: log.evals }) + '\n');
  for (const [file, svg] of Object.entries(charts(log))) writeTextAtomic(join(dir, file), svg);
}
