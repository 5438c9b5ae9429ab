// SIGKILL at random moments of a training run (issue 19 item 4): not only while a checkpoint
// is written, but during start-up, tokenization, a step, an evaluation or the write itself.
// After each kill the run is started again (--resume once a checkpoint exists, else afresh);
// after 20 kills it is left to finish. Nothing may be lost or half-written: the finished run
// must equal, bit for bit, one that was never interrupted (the same thread count: 1).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { seededUniform } from '../reference/random.js';
import { cli, cliPath } from './train-cli-helpers.js';
import { corpusFile, tempDir, tok512 } from './train-loop-helpers.js';

const KILLS = 20;
const corpus = corpusFile(60);
const recipe = [
  '--tokenizer', tok512, '--steps', '80', '--save-every', '1', '--eval-every', '4', '--eval-batches', '1',
  '--dim', '32', '--layers', '2', '--heads', '4', '--kv-heads', '2', '--seq-len', '32', '--batch', '2',
  '--backend', 'wasm', '--threads', '1', '--seed', '7',
];

// What a finished run leaves, timings aside.
function finished(out: string) {
  const log = JSON.parse(readFileSync(join(out, 'log.json'), 'utf8'));
  return {
    gguf: readFileSync(join(out, 'model.gguf')),
    steps: log.steps.map((s: Record<string, unknown>) => [s.step, s.loss, s.lr, s.gradNorm]),
    evals: log.evals,
  };
}

// The moment of a kill: `startup` ms after the spawn, or else `lines` stderr lines after the
// first step's (each step, evaluation and checkpoint writes one) plus `ms`, so kills land in
// start-up, in a step, in an evaluation and in a checkpoint's write, whatever the machine's speed.
interface Moment { startup?: number; lines: number; ms: number }

// Runs once, killed with SIGKILL at `moment` unless it exits first: 'killed' or its exit code.
function runUntil(args: string[], moment: Moment | undefined): Promise<'killed' | number> {
  const child = spawn(process.execPath, [cliPath, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  let linesSinceStep = -1; // -1: no step yet
  let timer: NodeJS.Timeout | undefined;
  const kill = (ms: number) => (timer ??= setTimeout(() => child.kill('SIGKILL'), ms));
  if (moment?.startup !== undefined) kill(moment.startup);
  child.stderr.on('data', (d: Buffer) => {
    const text = d.toString();
    err += text;
    if (!moment || moment.startup !== undefined) return;
    for (const line of text.split('\n').filter(Boolean)) {
      if (linesSinceStep < 0 && /^step +\d+\//.test(line)) linesSinceStep = 0;
      else if (linesSinceStep >= 0) linesSinceStep++;
      if (linesSinceStep >= moment.lines) kill(moment.ms);
    }
  });
  return new Promise((resolve, reject) => {
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL') resolve('killed');
      else if (code === 0) resolve(0);
      else reject(new Error(`train exited with ${code} after a kill:\n${err}`));
    });
  });
}

describe('training under SIGKILL', () => {
  test(`${KILLS} kills at random moments, each followed by a restart: the same bits as an uninterrupted run`, async () => {
    const straight = join(tempDir('kill-straight'), 'run');
    const r = cli(['train', '--out', straight, ...recipe, corpus]);
    expect(r.status, r.stderr).toBe(0);
    const expected = finished(straight);
    expect(expected.steps.length).toBe(80);

    const out = join(tempDir('kill-resume'), 'run');
    const random = seededUniform(2026);
    let kills = 0;
    let resumes = 0;
    for (;;) {
      const resumable = existsSync(join(out, 'optimizer.bin'));
      if (resumable) resumes++;
      const args = resumable ? ['train', '--resume', out] : ['train', '--out', out, ...recipe, corpus];
      const moment: Moment | undefined = kills >= KILLS ? undefined
        : random() < 0.2 ? { startup: random() * 400, lines: 0, ms: 0 }
        : { lines: Math.floor(random() * 6), ms: random() * 30 };
      const result = await runUntil(args, moment);
      if (result === 'killed') kills++;
      else break;
    }
    expect(kills).toBe(KILLS);
    expect(resumes).toBeGreaterThan(0); // the kills did land after checkpoints, not only before the first
    const got = finished(out);
    expect(got.steps).toEqual(expected.steps);
    expect(got.evals.map((e: { step: number; loss: number }) => [e.step, e.loss])).toEqual(expected.evals.map((e: { step: number; loss: number }) => [e.step, e.loss]));
    expect(Buffer.compare(got.gguf, expected.gguf)).toBe(0);
  }, 300_000);
});
