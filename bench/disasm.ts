// Instructions per 256 weights in the hot loop of each integer decode kernel, read from the
// machine code that actually runs: ours as V8's optimizing compiler (TurboFan) makes it from
// the relaxed-SIMD build on this machine, llama.cpp's from the CPU variants node-llama-cpp
// ships (sandybridge: AVX, whose integer SIMD is 128-bit like WASM's; haswell: AVX2, 256-bit;
// zen4: AVX-512). Writes bench/results/disasm.json.
//
//   npm run bench:disasm [-- --out FILE]
//
// Why: issue 17 asks where 128-bit WASM SIMD bounds a kernel, to show it from the compiled
// code. The hot loop is found the same way on both sides: among the innermost loops (backward
// branches before the function's first return) of the kernel's functions and what they call,
// the one with the most 8-bit dot products (pmaddubsw, or vpdpbusd); each
// of those multiplies one register's width of weights (16 bytes for xmm, 32 ymm, 64 zmm), so
// weights per iteration = their count × width, and instructions per 256 weights follow.
// "stack" counts instructions that touch the stack frame (spills and reloads, mostly).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { parseFlags } from './lib/args.js';
import { machineInfo } from './lib/machine.js';
import { RESULTS_DIR, ROOT } from './lib/paths.js';
import { relaxedVariant } from './lib/wasm.js';

interface Instruction { address: number; op: string; args: string }
interface Loop { instructions: number; dots: number; weights: number; stack: number; perWeights256: number; stackPer256: number }

// Our decode kernels (exports of the relaxed build) and llama.cpp's functions for the same types
const KERNELS = [
  { type: 'q8_0', ours: 'matmulQ8_0I8', llamaCpp: 'ggml_vec_dot_q8_0_q8_0' },
  { type: 'q4_0', ours: 'matmulQ4_0I8', llamaCpp: 'ggml_vec_dot_q4_0_q8_0' },
  { type: 'q4_k', ours: 'matmulQ4_KI8', llamaCpp: 'ggml_vec_dot_q4_K_q8_K' },
  { type: 'q5_k', ours: 'matmulQ5_KI8', llamaCpp: 'ggml_vec_dot_q5_K_q8_K' },
  { type: 'q6_k', ours: 'matmulQ6_KI8', llamaCpp: 'ggml_vec_dot_q6_K_q8_K' },
  { type: 'q2_k', ours: 'matmulQ2_KQ8', llamaCpp: 'ggml_vec_dot_q2_K_q8_K' },
  { type: 'q3_k', ours: 'matmulQ3_KQ8', llamaCpp: 'ggml_vec_dot_q3_K_q8_K' },
  { type: 'q4_1', ours: 'matmulQ4_1I8', llamaCpp: 'ggml_vec_dot_q4_1_q8_1' },
  { type: 'q5_0', ours: 'matmulQ5_0I8', llamaCpp: 'ggml_vec_dot_q5_0_q8_0' },
  { type: 'q5_1', ours: 'matmulQ5_1I8', llamaCpp: 'ggml_vec_dot_q5_1_q8_1' },
] as const;
const LLAMA_CPP_VARIANTS = ['sandybridge', 'haswell', 'zen4'] as const;

const DOT = /^v?(pmaddubsw|pdpbusds?)$/;

// The hot loop of a function's instructions (see the header): of the innermost loops (no
// other loop inside them), the one with the most dots; undefined without dots. (V8 may peel
// or unroll a loop: the count is per weight, so either way it is the steady state's.)
function hotLoop(code: Instruction[]): Loop | undefined {
  const at = new Map(code.map((ins, i) => [ins.address, i]));
  const spans: Array<[number, number]> = []; // [first, last] instruction of each loop
  // Backward branches after the first return are out-of-line code (V8's stack-check and trap
  // paths) jumping back into the body, not loops
  const end = code.findIndex((ins) => ins.op.startsWith('ret'));
  code.forEach((ins, i) => {
    if (!ins.op.startsWith('j') || (end >= 0 && i > end)) return;
    const target = /^(?:0x)?([0-9a-f]+)/.exec(ins.args);
    const j = target ? at.get(parseInt(target[1], 16)) : undefined;
    if (j !== undefined && j <= i) spans.push([j, i]);
  });
  const innermost = spans.filter(([j, i]) => !spans.some(([b, e]) => j <= b && e <= i && (b !== j || e !== i)));
  let best: Loop | undefined;
  for (const [j, i] of innermost) {
    const body = code.slice(j, i + 1);
    const dotOps = body.filter((b) => DOT.test(b.op));
    if (dotOps.length === 0) continue;
    const weights = dotOps.reduce((sum, b) => sum + (b.args.includes('zmm') ? 64 : b.args.includes('ymm') ? 32 : 16), 0);
    const stack = body.filter((b) => /\[(rbp|rsp)[^\]]*\]/.test(b.args)).length;
    const loop = { instructions: body.length, dots: dotOps.length, weights, stack, perWeights256: round(body.length * 256 / weights), stackPer256: round(stack * 256 / weights) };
    if (!best || loop.dots > best.dots) best = loop;
  }
  return best;
}

const round = (x: number) => Math.round(x * 10) / 10;

// --- ours: V8's code for the relaxed build ------------------------------------------------------

// Export name -> function index, and each function's callees, from binaryen's text of the module
function callGraph(wasmPath: string): { exports: Map<string, number>; calls: Map<number, Set<number>> } {
  const wasmDis = join(dirname(createRequire(import.meta.url).resolve('binaryen/package.json')), 'bin', 'wasm-dis');
  const text = execFileSync(wasmDis, [wasmPath], { maxBuffer: 1 << 28 }).toString();
  const names: string[] = []; // function names in index order (imports first)
  for (const m of text.matchAll(/^ \((?:import "[^"]*" "[^"]*" \(func|func) \$([^\s()]+)/gm)) names.push(m[1]);
  const index = new Map(names.map((n, i) => [n, i]));
  const exports = new Map<string, number>();
  for (const m of text.matchAll(/^ \(export "([^"]+)" \(func \$([^\s()]+)\)\)/gm)) exports.set(m[1], index.get(m[2])!);
  const calls = new Map<number, Set<number>>();
  let current = -1;
  for (const line of text.split('\n')) {
    const f = /^ \(func \$([^\s()]+)/.exec(line);
    if (f) { current = index.get(f[1])!; calls.set(current, new Set()); continue; }
    const c = /\(call \$([^\s()]+)/.exec(line);
    if (c && current >= 0) calls.get(current)!.add(index.get(c[1])!);
  }
  return { exports, calls };
}

// Function index -> TurboFan's instructions, every function compiled eagerly
function v8Code(wasmPath: string): Map<number, Instruction[]> {
  const script = `new WebAssembly.Module(require('fs').readFileSync(${JSON.stringify(wasmPath)}))`;
  const text = execFileSync(process.execPath, ['--no-liftoff', '--no-wasm-lazy-compilation', '--experimental-wasm-relaxed-simd', '--print-wasm-code', '-e', script], { maxBuffer: 1 << 30 }).toString();
  const functions = new Map<number, Instruction[]>();
  for (const part of text.split('--- WebAssembly code ---')) {
    const index = /^index: (\d+)$/m.exec(part);
    if (!index || !/^compiler: TurboFan$/m.test(part)) continue;
    const code: Instruction[] = [];
    for (const m of part.matchAll(/^0x([0-9a-f]+)[ \t]+[0-9a-f]+[ \t]+[0-9a-f]+[ \t]+(?:REX\.W )?(\S+)[ \t]*(.*)$/gm)) code.push({ address: parseInt(m[1], 16), op: m[2], args: m[3] });
    functions.set(Number(index[1]), code);
  }
  return functions;
}

function ourLoops(wasmPath: string): Record<string, Loop | undefined> {
  const { exports, calls } = callGraph(wasmPath);
  const code = v8Code(wasmPath);
  const result: Record<string, Loop | undefined> = {};
  for (const k of KERNELS) {
    const root = exports.get(k.ours);
    if (root === undefined) throw new Error(`bench:disasm: ${wasmPath} has no export ${k.ours}`);
    const seen = new Set<number>([root]); // the kernel and what it calls (rowDotQ6_K is not inlined)
    for (const f of seen) for (const c of calls.get(f) ?? []) seen.add(c);
    const loops = [...seen].map((f) => hotLoop(code.get(f) ?? [])).filter((l): l is Loop => !!l);
    result[k.type] = loops.sort((a, b) => b.dots - a.dots)[0];
  }
  return result;
}

// --- llama.cpp: objdump of node-llama-cpp's CPU variants ----------------------------------------

// node-llama-cpp's prebuilt x64 Linux binaries (an optional dependency of it, so looked up
// on disk: its package.json is not exported)
function llamaCppBins(): string | undefined {
  const dir = join(ROOT, 'node_modules', '@node-llama-cpp', 'linux-x64', 'bins', 'linux-x64');
  return existsSync(dir) ? dir : undefined;
}

function objdumpFunction(library: string, name: string): Instruction[] {
  const symbols = execFileSync('nm', ['-D', '--defined-only', '-n', library]).toString().split('\n')
    .map((l) => l.trim().split(/\s+/)).filter((p) => p.length === 3).map(([a, , n]) => ({ address: parseInt(a, 16), name: n }));
  const start = symbols.find((s) => s.name === name)?.address;
  if (start === undefined) return [];
  const end = Math.min(...symbols.filter((s) => s.address > start).map((s) => s.address));
  const text = execFileSync('objdump', ['-d', '-M', 'intel', '--no-show-raw-insn', `--start-address=0x${start.toString(16)}`, `--stop-address=0x${end.toString(16)}`, library], { maxBuffer: 1 << 26 }).toString();
  return [...text.matchAll(/^[ \t]+([0-9a-f]+):[ \t]+(\S+)[ \t]*(.*)$/gm)].map((m) => ({ address: parseInt(m[1], 16), op: m[2], args: m[3] }));
}

function llamaCppLoops(): Record<string, Record<string, Loop | undefined>> | undefined {
  const bins = llamaCppBins();
  if (!bins) return undefined;
  const result: Record<string, Record<string, Loop | undefined>> = {};
  for (const variant of LLAMA_CPP_VARIANTS) {
    const library = join(bins, `libggml-cpu-${variant}.so`);
    if (!existsSync(library)) continue;
    result[variant] = Object.fromEntries(KERNELS.map((k) => [k.type, hotLoop(objdumpFunction(library, k.llamaCpp))]));
  }
  return result;
}

// --- report ----------------------------------------------------------------------------------

function cell(loop: Loop | undefined): string {
  return loop ? `${loop.perWeights256} (${loop.stackPer256} stack)` : '-';
}

function main(): void {
  const flags = parseFlags(process.argv.slice(2), ['out'], []);
  const out = resolve(String(flags.get('out') ?? join(RESULTS_DIR, 'disasm.json')));
  const relaxed = relaxedVariant();
  if (!relaxed) throw new Error('bench:disasm: the relaxed-SIMD build is missing (npm run build:wasm)');
  const ours = ourLoops(relaxed.path);
  const llamaCpp = llamaCppLoops();
  const variants = Object.keys(llamaCpp ?? {});
  console.log('instructions per 256 weights in the hot decode loop (of which touching the stack):');
  console.log(['type', 'llama-ts (V8, 128-bit)', ...variants.map((v) => `llama.cpp ${v}`)].map((s) => s.padEnd(24)).join(''));
  for (const k of KERNELS) console.log([k.type, cell(ours[k.type]), ...variants.map((v) => cell(llamaCpp![v][k.type]))].map((s) => s.padEnd(24)).join(''));
  if (!llamaCpp) console.log('(node-llama-cpp\'s linux-x64 binaries not found: llama.cpp columns left out)');
  console.log('llama.cpp q4_0: its vec_dot; on AVX2/AVX-512 machines it repacks Q4_0 at load and runs a GEMV instead.');
  mkdirSync(dirname(out), { recursive: true });
  const machine = machineInfo();
  writeFileSync(out, JSON.stringify({ schema: 'llama-ts-bench-disasm/1', date: new Date().toISOString(), machine, wasm: relaxed.path, ours, llamaCpp: llamaCpp ?? null }, null, 2) + '\n');
  console.log(`wrote ${out}`);
}

main();
