// Shared by the tests/wasm-*.test.ts files: builds the kernels when the .wasm is missing
// or older than assembly/, and generates seeded test data.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { seededNormal } from '../reference/init.js';

const buildScript = fileURLToPath(new URL('../scripts/build-wasm.mjs', import.meta.url));

// Call from beforeAll: a clean checkout (or edited assembly/) gets a fresh build.
export function ensureWasmBuilt(): void {
  execFileSync(process.execPath, [buildScript, '--if-stale'], { stdio: 'pipe' });
}

// Which kernels file the tests load: the default build, or another one named by
// LLAMA_TS_WASM_KERNELS, e.g. the relaxed-SIMD build (Node 20 runs that one only with
// NODE_OPTIONS=--experimental-wasm-relaxed-simd; its fused multiply-adds round less, so
// the same tolerances hold).
export const wasmPath: string | undefined = process.env.LLAMA_TS_WASM_KERNELS;

export const EPS32 = 2 ** -24; // unit roundoff of float32

// n values ~ N(0, std²) from a seed
export function randomArray(n: number, seed: number, std = 1): Float32Array {
  const normal = seededNormal(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = normal() * std;
  return a;
}
