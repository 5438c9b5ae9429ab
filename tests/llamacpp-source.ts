// Files of the llama.cpp source that node-llama-cpp ships as a git bundle
// (node_modules/node-llama-cpp/llama/gitRelease.bundle), read at test time: cloned once
// per test file (removeLlamaCppClone in afterAll), without a checkout, read with `git show`. Nothing of llama.cpp is
// copied into this repository.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const BUNDLE = resolve('node_modules/node-llama-cpp/llama/gitRelease.bundle');

let clone: string | undefined;

function cloned(): string {
  if (clone) return clone;
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: node-llama-cpp is not installed (npm ci)`);
  const dir = mkdtempSync(join(tmpdir(), 'llama-cpp-'));
  execFileSync('git', ['clone', '-q', '--no-checkout', BUNDLE, dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  return (clone = dir);
}

// Removes the clone (call from afterAll).
export function removeLlamaCppClone(): void {
  if (clone) rmSync(clone, { recursive: true, force: true });
  clone = undefined;
}

// The bytes of `path` (relative to llama.cpp's root) at the bundle's commit.
export function llamaCppFile(path: string): Buffer {
  return execFileSync('git', ['-C', cloned(), 'show', `HEAD:${path}`], { maxBuffer: 1 << 28 });
}

// A vocabulary conformance set, models/ggml-vocab-NAME.gguf with its .inp and .out:
// .inp holds each input followed by the line "__ggml_vocab_test__"; .out one line of
// space-separated ids per input (an empty line for none).
export function llamaCppVocabCases(name: string): { gguf: Uint8Array; cases: { input: string; ids: number[] }[] } {
  const base = `models/ggml-vocab-${name}.gguf`;
  const inputs = llamaCppFile(`${base}.inp`).toString('utf8').split('\n__ggml_vocab_test__\n');
  const lines = llamaCppFile(`${base}.out`).toString('utf8').split('\n');
  if (inputs.pop() !== '' || lines.pop() !== '' || inputs.length !== lines.length) throw new Error(`${base}.inp/.out: not the layout expected`);
  const cases = inputs.map((input, i) => ({ input, ids: lines[i].trim() === '' ? [] : lines[i].trim().split(/ +/).map(Number) }));
  return { gguf: new Uint8Array(llamaCppFile(base)), cases };
}
