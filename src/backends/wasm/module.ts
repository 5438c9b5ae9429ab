// Choosing, finding, compiling and instantiating the kernels module. scripts/build-wasm.mjs
// makes two builds of assembly/:
//
//   kernels.wasm          SIMD ('plain')
//   kernels-relaxed.wasm  relaxed SIMD ('relaxed'): the dot products use f32x4.relaxed_madd,
//                         a fused multiply-add where the CPU has one (one rounding, not two)
//
// Which one runs is decided once per process: relaxed where the runtime supports it and the
// file is there, unless the `simd` option or LLAMA_TS_SIMD says otherwise. Node 20's V8
// compiles relaxed SIMD only behind a flag, which we set at run time before the first
// compile (browsers since Chrome 114 need nothing). Worker threads instantiate the module
// the main thread compiled, so every thread runs the same build.
//
// Files come from beside this module (dist/ in the package, or a browser bundle's folder)
// or, in a source checkout under Node, from build/. Node reads them with node:fs; browsers
// fetch them. No `node:` module is imported at the top level (the browser bundle has none).
import { checkSharedMemory, isNode } from './host.js';
import { kernelImports, type KernelExports } from './abi.js';

export type SimdBuild = 'relaxed' | 'plain';
export type SimdChoice = SimdBuild | 'auto';

export const WASM_FILE = 'kernels.wasm';
export const WASM_RELAXED_FILE = 'kernels-relaxed.wasm';
const BUILD_FILE: Record<SimdBuild, string> = { plain: WASM_FILE, relaxed: WASM_RELAXED_FILE };
export const SIMD_ENV = 'LLAMA_TS_SIMD';

// Which kernels to load: a file (or, in a browser, a URL) that wins over everything, or a
// build; `simd` defaults to $LLAMA_TS_SIMD in Node, else 'auto'. With a wasmPath, `simd`
// only says which build that file is (default: by its name).
export interface KernelSource {
  wasmPath?: string;
  simd?: SimdChoice;
}

export interface CompiledKernels {
  module: WebAssembly.Module;
  simd: SimdBuild;
  source: string; // the file or URL it came from
}

// (module (func (param v128 v128 v128) (result v128)
//   local.get 0 local.get 1 local.get 2 f32x4.relaxed_madd))   ; opcode 0xfd 0x105 (LEB 0x85 0x02)
// prettier-ignore
const RELAXED_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
  0x01, 0x08, 0x01, 0x60, 0x03, 0x7b, 0x7b, 0x7b, 0x01, 0x7b, // type section: (v128 v128 v128) -> v128
  0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
  0x0a, 0x0d, 0x01, 0x0b, 0x00, 0x20, 0x00, 0x20, 0x01, 0x20, 0x02, 0xfd, 0x85, 0x02, 0x0b, // code
]);

let relaxedSupport: Promise<boolean> | undefined;

// Does this runtime compile relaxed SIMD? In Node, turns on V8's flag for it if needed
// (process-wide, before anything relaxed is compiled). Asked once per process.
export function relaxedSimdSupported(): Promise<boolean> {
  relaxedSupport ??= (async () => {
    if (WebAssembly.validate(RELAXED_PROBE)) return true;
    if (!isNode()) return false;
    const v8 = await import('node:v8');
    v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
    return WebAssembly.validate(RELAXED_PROBE);
  })();
  return relaxedSupport;
}

// The option, else $LLAMA_TS_SIMD (Node), else 'auto'; anything else is an error.
export function simdChoice(option?: SimdChoice): SimdChoice {
  const fromEnv = isNode() ? process.env[SIMD_ENV] || undefined : undefined;
  const choice: string = option ?? fromEnv ?? 'auto';
  if (choice !== 'auto' && choice !== 'relaxed' && choice !== 'plain') {
    const where = option !== undefined ? 'the simd option' : SIMD_ENV;
    throw new Error(`wasm kernels: ${where} must be 'relaxed', 'plain' or 'auto', got ${JSON.stringify(choice)}`);
  }
  return choice;
}

// The URL of this module, in the ESM build and in the CJS build (where tsup leaves
// import.meta empty unless its `shims` option is on).
async function moduleUrl(): Promise<string | undefined> {
  const url = (import.meta as { url?: string }).url;
  if (url) return url;
  if (typeof __filename !== 'string') return undefined;
  const { pathToFileURL } = await import('node:url');
  return pathToFileURL(__filename).href;
}

// Node: where a build asset (kernels*.wasm, wasm-worker.mjs) may be: beside the bundle
// (dist/, where the package build copies it) or in build/ at the root of a source checkout
// (src/backends/wasm/ is three levels down).
export async function assetCandidates(file: string): Promise<string[]> {
  const base = await moduleUrl();
  if (!base) return [];
  const { fileURLToPath } = await import('node:url');
  return [new URL(`./${file}`, base), new URL(`../../../build/${file}`, base)].map((u) => fileURLToPath(u));
}

// Node: the first candidate that exists, or undefined.
export async function findAsset(file: string): Promise<string | undefined> {
  const { existsSync } = await import('node:fs');
  return (await assetCandidates(file)).find((path) => existsSync(path));
}

async function notFound(file: string): Promise<Error> {
  const looked = isNode() ? (await assetCandidates(file)).join(', ') || 'no location: module URL unknown' : new URL(`./${file}`, import.meta.url).href;
  return new Error(`wasm kernels: ${file} not found (looked at ${looked}); build it with \`node scripts/build-wasm.mjs\``);
}

// Browser: a build's URL, beside this module. Literal `new URL('./…', import.meta.url)`
// expressions, so that bundlers which copy assets (Vite, webpack) see both files.
function browserUrl(build: SimdBuild): URL {
  return build === 'relaxed' ? new URL('./kernels-relaxed.wasm', import.meta.url) : new URL('./kernels.wasm', import.meta.url);
}

// The bytes at a file path (Node) or URL (browser), or undefined when there is none there.
async function readBytes(location: string): Promise<Uint8Array<ArrayBuffer> | undefined> {
  if (isNode()) {
    const { existsSync, readFileSync } = await import('node:fs');
    return existsSync(location) ? new Uint8Array(readFileSync(location)) : undefined; // a copy on its own ArrayBuffer
  }
  const response = await fetch(location);
  return response.ok ? new Uint8Array(await response.arrayBuffer()) : undefined;
}

// Where a build lives here, if it does.
async function locateBuild(build: SimdBuild): Promise<string | undefined> {
  return isNode() ? findAsset(BUILD_FILE[build]) : browserUrl(build).href;
}

// The build to load for a choice, and its bytes.
async function pickBuild(choice: SimdChoice): Promise<{ simd: SimdBuild; source: string; bytes: Uint8Array<ArrayBuffer> }> {
  if (choice === 'relaxed' && !(await relaxedSimdSupported())) {
    throw new Error(`wasm kernels: relaxed SIMD was asked for (simd option or ${SIMD_ENV}) but this runtime does not support it`);
  }
  if (choice !== 'plain' && (await relaxedSimdSupported())) {
    const source = await locateBuild('relaxed');
    const bytes = source && (await readBytes(source));
    if (source && bytes) return { simd: 'relaxed', source, bytes };
    if (choice === 'relaxed') throw await notFound(WASM_RELAXED_FILE);
  }
  const source = await locateBuild('plain');
  const bytes = source && (await readBytes(source));
  if (!source || !bytes) throw await notFound(WASM_FILE);
  return { simd: 'plain', source, bytes };
}

// A given file: its bytes, and which build it is (the option, else by its name).
async function readGivenFile(path: string, option?: SimdChoice): Promise<{ simd: SimdBuild; source: string; bytes: Uint8Array<ArrayBuffer> }> {
  await relaxedSimdSupported(); // so that a relaxed file compiles in Node 20
  const bytes = await readBytes(path);
  if (!bytes) throw new Error(`wasm kernels: ${path} not found; build it with \`node scripts/build-wasm.mjs\``);
  const named = path.endsWith(WASM_RELAXED_FILE) ? 'relaxed' : 'plain';
  return { simd: option === 'relaxed' || option === 'plain' ? option : named, source: path, bytes };
}

const compiled = new Map<string, Promise<CompiledKernels>>();

// Compiles the kernels once per process and choice; every kernels instance shares the module.
export function loadKernels(source: KernelSource = {}): Promise<CompiledKernels> {
  const choice = simdChoice(source.simd);
  const key = source.wasmPath ? `file:${source.wasmPath}:${choice}` : `build:${choice}`;
  let result = compiled.get(key);
  if (!result) {
    result = (async () => {
      checkSharedMemory();
      const picked = source.wasmPath ? await readGivenFile(source.wasmPath, choice) : await pickBuild(choice);
      try {
        return { module: await WebAssembly.compile(picked.bytes), simd: picked.simd, source: picked.source };
      } catch (error) {
        throw new Error(`wasm kernels: ${picked.source} does not compile (does this runtime support WASM SIMD?): ${(error as Error).message}`);
      }
    })();
    result.catch(() => compiled.delete(key)); // a failure is not cached: the next call retries
    compiled.set(key, result);
  }
  return result;
}

// The compiled module alone (for callers that name a file, or none: the default build).
export async function compileKernels(path?: string, simd?: SimdChoice): Promise<WebAssembly.Module> {
  return (await loadKernels({ wasmPath: path, simd })).module;
}

export async function instantiateKernels(module: WebAssembly.Module, memory: WebAssembly.Memory): Promise<KernelExports> {
  const instance = await WebAssembly.instantiate(module, kernelImports(memory));
  return instance.exports as unknown as KernelExports;
}
