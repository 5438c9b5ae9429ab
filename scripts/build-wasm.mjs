#!/usr/bin/env node
// Compiles the AssemblyScript kernels (assembly/index.ts) twice, and bundles the kernels
// worker thread (src/backends/wasm/worker.ts) to build/wasm-worker.mjs:
//
//   build/kernels.wasm          SIMD
//   build/kernels-relaxed.wasm  relaxed SIMD (f32x4.relaxed_madd: fused multiply-add)
//
//   node scripts/build-wasm.mjs                 both builds and the worker
//   node scripts/build-wasm.mjs --if-stale      only what is older than its sources
//   node scripts/build-wasm.mjs --copy-to dist  copy the built files into dist/ (after tsup,
//                                               whose `clean` empties dist/)
//
// build/ is a generated folder (gitignored). At run time src/backends/wasm/module.ts picks
// the relaxed build where the runtime supports it, and looks for it next to the bundled
// module (dist/) first, then in build/ (running from source, as the tests do).
import asc from 'assemblyscript/asc';
import { build as esbuild } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const sourceDir = join(root, 'assembly');
const buildDir = join(root, 'build');

// The memory is imported (the JavaScript side owns it) and shared, so that worker threads
// can later run kernels on the same weights; shared memory needs the threads feature and
// a maximum: 65536 pages = 4 GiB, all a wasm32 memory can address.
const COMMON_FLAGS = [
  join(sourceDir, 'index.ts'),
  '-O3', '--noAssert',
  '--runtime', 'stub',
  '--enable', 'simd', '--enable', 'threads',
  '--importMemory', '--sharedMemory', '--initialMemory', '1', '--maximumMemory', '65536',
];

export const VARIANTS = {
  simd: { file: 'kernels.wasm', flags: [] },
  relaxed: { file: 'kernels-relaxed.wasm', flags: ['--enable', 'relaxed-simd'] },
};

// The worker script, for inference and training jobs alike: worker.ts and what it imports
// (worker-ops.ts, abi.ts), one self-contained ES module; node:worker_threads stays an
// import (it is only loaded in Node).
const workerDir = join(root, 'src', 'backends', 'wasm');
const WORKER = { entry: join(workerDir, 'worker.ts'), file: 'wasm-worker.mjs', sources: ['worker.ts', 'worker-ops.ts', 'abi.ts'] };

function newestSourceTime(files = readdirSync(sourceDir).filter((name) => name.endsWith('.ts')).map((name) => join(sourceDir, name))) {
  const times = files.map((file) => statSync(file).mtimeMs);
  times.push(statSync(fileURLToPath(import.meta.url)).mtimeMs);
  return Math.max(...times);
}

function isStale(outFile, sources) {
  return !existsSync(outFile) || statSync(outFile).mtimeMs < newestSourceTime(sources);
}

export async function buildWorker({ ifStale = false } = {}) {
  const outFile = join(buildDir, WORKER.file);
  if (ifStale && !isStale(outFile, WORKER.sources.map((name) => join(workerDir, name)))) return outFile;
  mkdirSync(buildDir, { recursive: true });
  const tmpFile = `${outFile}.${process.pid}.tmp`;
  await esbuild({
    entryPoints: [WORKER.entry], outfile: tmpFile, bundle: true, format: 'esm', platform: 'neutral',
    target: 'es2022', external: ['node:worker_threads'], logLevel: 'error',
  });
  renameSync(tmpFile, outFile);
  return outFile;
}

// Compiles one variant; writes to a temporary name first and renames, so that a reader
// (or a second build running at the same time) never sees half a file.
export async function buildVariant(variant = 'simd', { ifStale = false } = {}) {
  const { file, flags } = VARIANTS[variant];
  const outFile = join(buildDir, file);
  if (ifStale && !isStale(outFile)) return outFile;
  mkdirSync(buildDir, { recursive: true });
  const tmpFile = `${outFile}.${process.pid}.tmp`;
  const { error, stderr } = await asc.main([...COMMON_FLAGS, ...flags, '--outFile', tmpFile]);
  if (error) {
    rmSync(tmpFile, { force: true });
    throw new Error(`build-wasm: ${variant} build failed: ${error.message}\n${stderr.toString()}`);
  }
  renameSync(tmpFile, outFile);
  return outFile;
}

function copyTo(dir) {
  const target = resolve(root, dir);
  mkdirSync(target, { recursive: true });
  for (const { file } of [...Object.values(VARIANTS), WORKER]) {
    const from = join(buildDir, file);
    if (existsSync(from)) copyFileSync(from, join(target, file));
  }
  for (const file of [VARIANTS.simd.file, VARIANTS.relaxed.file, WORKER.file]) {
    if (!existsSync(join(target, file))) throw new Error(`build-wasm: ${join(buildDir, file)} does not exist; build it before --copy-to`);
  }
}

async function cli(args) {
  const copyIndex = args.indexOf('--copy-to');
  if (copyIndex >= 0) {
    const dir = args[copyIndex + 1];
    if (!dir) throw new Error('build-wasm: --copy-to needs a folder');
    copyTo(dir);
    return;
  }
  const ifStale = args.includes('--if-stale');
  const built = [await buildVariant('simd', { ifStale }), await buildVariant('relaxed', { ifStale }), await buildWorker({ ifStale })];
  for (const file of built) console.log(`build-wasm: ${file} (${statSync(file).size} bytes)`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  cli(process.argv.slice(2)).catch((error) => {
    console.error(error.message);
    process.exitCode = 1;
  });
}
