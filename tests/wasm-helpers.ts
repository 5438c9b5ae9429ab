// Shared by the tests/wasm-*.test.ts files: builds the kernels when the .wasm is missing
// or older than assembly/, and generates seeded test data.
import { execFileSync } from 'node:child_process';
import { expect } from 'vitest';
import { fileURLToPath } from 'node:url';
import { seededNormal } from '../reference/random.js';

const buildScript = fileURLToPath(new URL('../scripts/build-wasm.mjs', import.meta.url));

// Call from beforeAll: a clean checkout (or edited assembly/) gets a fresh build.
export function ensureWasmBuilt(): void {
  execFileSync(process.execPath, [buildScript, '--if-stale'], { stdio: 'pipe' });
}

// Which kernels file the tests load: the default build (relaxed SIMD, whose fused
// multiply-adds round less, so the same tolerances hold; LLAMA_TS_SIMD=plain runs the tests
// on the plain SIMD build), or another file named by LLAMA_TS_WASM_KERNELS.
export const wasmPath: string | undefined = process.env.LLAMA_TS_WASM_KERNELS;

export const EPS32 = 2 ** -24; // unit roundoff of float32

// n values ~ N(0, std²) from a seed
export function randomArray(n: number, seed: number, std = 1): Float32Array {
  const normal = seededNormal(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = normal() * std;
  return a;
}

// The array as the kernels will see it: a plain copy, or a copy in their WASM memory.
// `placer(() => wasm)` gives a place(a, inWasm, kernels = wasm) for a test file.
export function placer<K extends { allocate(length: number): Float32Array }>(defaultKernels: () => K) {
  return (a: Float32Array, inWasm: boolean, kernels: K = defaultKernels()): Float32Array => {
    const placed = inWasm ? kernels.allocate(a.length) : new Float32Array(a.length);
    placed.set(a);
    return placed;
  };
}

// Asserts |got − want| ≤ tol(i) for every element, reporting the first failure.
export function expectClose(got: Float32Array, want: Float32Array, tol: (i: number) => number, what: string): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    if (!(err <= tol(i))) {
      throw new Error(`${what}: element ${i} is ${got[i]}, reference ${want[i]} (|error| ${err} > tolerance ${tol(i)})`);
    }
  }
}

// d_x of quantized activations: per block of 32 of each row of x [T, K], amax / 127 in f32,
// as the kernels compute it (assembly/activations.ts)
export function activationScales(x: Float32Array): Float32Array {
  const d = new Float32Array(x.length / 32);
  for (let b = 0; b < d.length; b++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[32 * b + j]));
    d[b] = Math.fround(amax / 127);
  }
  return d;
}
