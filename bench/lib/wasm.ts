// The WASM kernel builds a bench can time: the SIMD build and the relaxed-SIMD build (fused
// multiply-add), both made by `node scripts/build-wasm.mjs`.
// Node 20 compiles relaxed SIMD only behind a V8 flag; setting it at run time, before the
// first compile, is enough.
import { existsSync } from 'node:fs';
import v8 from 'node:v8';
import { WASM_RELAXED, WASM_SIMD } from './paths.js';

export interface WasmVariant {
  name: 'wasm' | 'wasm-relaxed';
  path: string;
}

let relaxedEnabled = false;

export function enableRelaxedSimd(): void {
  if (relaxedEnabled) return;
  v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  relaxedEnabled = true;
}

export function simdVariant(): WasmVariant {
  if (!existsSync(WASM_SIMD)) throw new Error(`bench: ${WASM_SIMD} is missing; run \`node scripts/build-wasm.mjs\``);
  return { name: 'wasm', path: WASM_SIMD };
}

// The relaxed build when present (and the flag it needs set), else undefined.
export function relaxedVariant(): WasmVariant | undefined {
  if (!existsSync(WASM_RELAXED)) return undefined;
  enableRelaxedSimd();
  return { name: 'wasm-relaxed', path: WASM_RELAXED };
}
