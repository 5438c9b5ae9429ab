// Running `llama-ts` as a user does: the built dist/cli.js (`npm test` builds first), or the
// bundle named by LLAMA_TS_CLI.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { root } from './train-loop-helpers.js';

export const cliPath = process.env.LLAMA_TS_CLI ?? join(root, 'dist/cli.js');

export function cli(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, ...env } });
}

export interface Running {
  child: ChildProcessWithoutNullStreams;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  // Resolves once stderr matches `re` (rejects after `ms`).
  waitFor(re: RegExp, ms?: number): Promise<void>;
}

export function start(args: string[], env: Record<string, string> = {}): Running {
  const child = spawn(process.execPath, [cliPath, ...args], { env: { ...process.env, ...env } });
  let err = '';
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString('utf8');
    for (const w of waiters.splice(0)) (w.re.test(err) ? w.resolve : () => waiters.push(w))();
  });
  child.stdout.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return {
    child, exited, stderr: () => err,
    waitFor(re, ms = 60_000) {
      if (re.test(err)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re} in:\n${err}`)), ms);
        exited.then(() => { if (!re.test(err)) { clearTimeout(timer); reject(new Error(`exited before ${re}:\n${err}`)); } });
        waiters.push({ re, resolve: () => { clearTimeout(timer); resolve(); } });
      });
    },
  };
}
