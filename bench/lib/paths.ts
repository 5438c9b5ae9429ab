// Where things are when a bench runs: the repository root (found from this module, which
// may be bundled into build/bench/), the kernels .wasm builds and the shared test data.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// The nearest folder above this module holding package.json: the repository root both
// when running from bench/ and when bundled into build/bench/.
export function repoRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`bench: no package.json above ${from}`);
  }
}

export const ROOT = repoRoot();
export const WASM_SIMD = join(ROOT, 'build', 'kernels.wasm');
export const WASM_RELAXED = join(ROOT, 'build', 'kernels-relaxed.wasm');
export const RESULTS_DIR = join(ROOT, 'bench', 'results');
// Read-only shared files (see ../shared/data/README.md); LLAMA_TS_DATA overrides.
export const DATA_DIR = resolve(process.env.LLAMA_TS_DATA ?? join(ROOT, '..', 'shared', 'data'));
export const LLAMA_TOKENIZER = join(DATA_DIR, 'llama-tokenizer', 'tokenizer.model');
