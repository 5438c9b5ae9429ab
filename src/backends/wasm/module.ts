// Finding, compiling and instantiating the kernels module (build/kernels.wasm, made by
// scripts/build-wasm.mjs from assembly/).
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { kernelImports } from './worker-ops.js';

// The functions assembly/index.ts exports. Pointers are byte offsets into the shared
// memory; n0..n1 is the range of weight rows a call computes (threads split a matmul by it).
export interface KernelExports {
  heapBase(): number;
  matmulF32(out: number, x: number, w: number, T: number, K: number, N: number, n0: number, n1: number): void;
  matmulF16(out: number, x: number, w: number, T: number, K: number, N: number, n0: number, n1: number): void;
  matmulQ8_0(out: number, x: number, w: number, T: number, K: number, N: number, n0: number, n1: number): void;
  matmulQ4_0(out: number, x: number, w: number, T: number, K: number, N: number, n0: number, n1: number): void;
  // x [T, K] f32 -> xq (72·T·K/32 bytes): blocks of 32 as int16 with an f32 scale each
  // (assembly/activations.ts)
  quantizeActivations(xq: number, x: number, T: number, K: number): void;
  // matmul of q8_0 / q4_0 weights with activations quantized by quantizeActivations, in integers
  matmulQ8_0Q8(out: number, xq: number, w: number, T: number, K: number, N: number, n0: number, n1: number): void;
  matmulQ4_0Q8(out: number, xq: number, w: number, T: number, K: number, N: number, n0: number, n1: number): void;
  rmsnorm(out: number, x: number, gain: number, T: number, C: number, eps: number): void;
  rope(x: number, T: number, nHeads: number, hd: number, pos0: number, theta: number): void;
  swiglu(out: number, gate: number, up: number, n: number): void;
  softmax(x: number, n: number): void;
  attention(
    out: number, q: number, kCache: number, vCache: number, scores: number,
    T: number, pos0: number, nHeads: number, nKvHeads: number, hd: number,
  ): void;
  attentionHeads(
    out: number, q: number, kCache: number, vCache: number, scores: number,
    T: number, pos0: number, nHeads: number, nKvHeads: number, hd: number, h0: number, h1: number,
  ): void;
}

export const WASM_FILE = 'kernels.wasm';

// The URL of this module, in the ESM build and in the CJS build (where tsup leaves
// import.meta empty unless its `shims` option is on).
function moduleUrl(): string | undefined {
  const url = (import.meta as { url?: string }).url;
  if (url) return url;
  return typeof __filename === 'string' ? pathToFileURL(__filename).href : undefined;
}

// Where a build asset (kernels.wasm, wasm-worker.mjs) may be: beside the bundle (dist/,
// where the package build copies it) or in build/ at the root of a source checkout
// (src/backends/wasm/ is three levels down).
export function assetCandidates(file: string): string[] {
  const base = moduleUrl();
  if (!base) return [];
  return [new URL(`./${file}`, base), new URL(`../../../build/${file}`, base)].map((u) => fileURLToPath(u));
}

export function wasmCandidates(): string[] {
  return assetCandidates(WASM_FILE);
}

export function readKernelsWasm(path?: string): Uint8Array<ArrayBuffer> {
  const candidates = path ? [path] : wasmCandidates();
  for (const file of candidates) {
    if (existsSync(file)) return new Uint8Array(readFileSync(file)); // a copy on its own ArrayBuffer
  }
  throw new Error(
    `wasm kernels: ${path ?? WASM_FILE} not found (looked at ${candidates.join(', ') || 'no location: module URL unknown'}); ` +
      'build it with `node scripts/build-wasm.mjs`',
  );
}

const compiled = new Map<string, Promise<WebAssembly.Module>>();

// Compiles a kernels file once per process; every kernels instance shares the module.
export function compileKernels(path?: string): Promise<WebAssembly.Module> {
  const key = path ?? '';
  let module = compiled.get(key);
  if (!module) {
    const bytes = readKernelsWasm(path);
    module = WebAssembly.compile(bytes).catch((error: Error) => {
      compiled.delete(key);
      throw new Error(`wasm kernels: ${path ?? WASM_FILE} does not compile (does this runtime support WASM SIMD?): ${error.message}`);
    });
    compiled.set(key, module);
  }
  return module;
}

export async function instantiateKernels(module: WebAssembly.Module, memory: WebAssembly.Memory): Promise<KernelExports> {
  const instance = await WebAssembly.instantiate(module, kernelImports(memory));
  return instance.exports as unknown as KernelExports;
}
