// What a run tells its user: a progress line on stderr per step (redrawn in place with \r on
// a terminal, one line per step otherwise), log.json with every step and evaluation, and
// loss.svg (plot.ts).
import { join } from 'node:path';
import { writeTextAtomic } from '../io/atomic-file.js';
import { lossChartSvg } from './plot.js';

export interface StepRecord {
  step: number;
  loss: number; // mean training loss of the step's batch, before its update
  lr: number;
  gradNorm: number; // before clipping
  tokensPerSecond: number;
  elapsedSeconds: number; // training time since the run began (all sessions)
}

export interface EvalRecord {
  step: number;
  valLoss: number; // mean over the fixed validation batches
}

export interface TrainLog {
  steps: StepRecord[];
  evals: EvalRecord[];
}

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

export function lossSeries(log: TrainLog) {
  return [
    { label: 'train', color: '#1f77b4', points: log.steps.map((s): [number, number] => [s.step, s.loss]) },
    { label: 'validation', color: '#d62728', points: log.evals.map((e): [number, number] => [e.step, e.valLoss]) },
  ];
}

// log.json and loss.svg in `dir`, each replaced atomically.
export function writeLogFiles(dir: string, log: TrainLog, header: Record<string, unknown>): void {
  writeTextAtomic(join(dir, 'log.json'), JSON.stringify({ ...header, steps: log.steps, evals: log.evals }) + '\n');
  writeTextAtomic(join(dir, 'loss.svg'), lossChartSvg(lossSeries(log), 'llama-ts training loss'));
}
