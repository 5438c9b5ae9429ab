// Which WASM build runs (src/backends/wasm/module.ts): relaxed SIMD (fused multiply-add) by
// default where the runtime has it — Node 20 does, behind a V8 flag the module sets — the
// plain SIMD build when the `simd` option or LLAMA_TS_SIMD asks for it, and a given
// wasmPath above both. Both builds are held to the same rounding bounds as
// tests/wasm-kernels.test.ts (which runs the default build), and both generate run.c's story.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { toF32, type WeightTensor } from '../reference/tensor.js';
import { tsKernels } from '../reference/ts-kernels.js';
import { createModelKernels, createWasmKernels } from '../src/backends/wasm/kernels.js';
import { relaxedSimdSupported, SIMD_ENV } from '../src/backends/wasm/module.js';
import { loadModel } from '../src/formats/load-file.js';
import { generate } from '../src/generate/generate.js';
import { loadTokenizer } from '../src/tokenizer/load.js';
import { EPS32, ensureWasmBuilt, expectClose, randomArray } from './wasm-helpers.js';

const data = fileURLToPath(new URL('../../shared/data/stories260K/', import.meta.url));
const build = (file: string) => fileURLToPath(new URL(`../build/${file}`, import.meta.url));
const small = { maxMemoryBytes: 1 << 24, threads: 1 };

// ../shared/data/README.md: llama2.c's run.c, greedy, on stories260K with tok512 (the CLI
// tests assert the same text, printed with a final newline).
const STORY =
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.\nLily';

const savedEnv = process.env[SIMD_ENV];
beforeAll(() => {
  ensureWasmBuilt();
  delete process.env[SIMD_ENV]; // the default is under test
});
afterEach(() => {
  delete process.env[SIMD_ENV];
});
afterAll(() => {
  if (savedEnv !== undefined) process.env[SIMD_ENV] = savedEnv;
});

describe('choosing the build', () => {
  it('Node 20 runs relaxed SIMD by default (the V8 flag is set at run time)', async () => {
    expect(await relaxedSimdSupported()).toBe(true);
    const k = await createWasmKernels(small);
    expect(k.simd).toBe('relaxed');
  });

  it("simd: 'plain' and LLAMA_TS_SIMD=plain force the plain SIMD build; the option beats the variable", async () => {
    expect((await createWasmKernels({ ...small, simd: 'plain' })).simd).toBe('plain');
    process.env[SIMD_ENV] = 'plain';
    expect((await createWasmKernels(small)).simd).toBe('plain');
    expect((await createWasmKernels({ ...small, simd: 'relaxed' })).simd).toBe('relaxed');
    process.env[SIMD_ENV] = 'relaxed';
    expect((await createWasmKernels(small)).simd).toBe('relaxed');
  });

  it('a bad choice is a clear error', async () => {
    process.env[SIMD_ENV] = 'fast';
    await expect(createWasmKernels(small)).rejects.toThrow(/LLAMA_TS_SIMD must be 'relaxed', 'plain' or 'auto', got "fast"/);
    delete process.env[SIMD_ENV];
    await expect(createWasmKernels({ ...small, simd: 'avx' as never })).rejects.toThrow(/the simd option must be/);
  });

  it('an explicit wasmPath wins, and is named by its file', async () => {
    expect((await createWasmKernels({ ...small, wasmPath: build('kernels.wasm') })).simd).toBe('plain');
    expect((await createWasmKernels({ ...small, wasmPath: build('kernels-relaxed.wasm'), simd: 'plain' })).simd).toBe('plain');
    expect((await createWasmKernels({ ...small, wasmPath: build('kernels-relaxed.wasm') })).simd).toBe('relaxed');
    await expect(createWasmKernels({ ...small, wasmPath: build('missing.wasm') })).rejects.toThrow(/missing\.wasm not found/);
  });
});

describe('both builds compute within the rounding bounds', () => {
  // out[t, n] = Σ_k x[t, k]·W[n, k] in f32 against the f64 reference: at most
  // (K + 2)·ε·Σ|x·w| + ε·|ref| either way (a fused multiply-add rounds once instead of twice,
  // which only tightens Higham's bound). Different roundings: the two builds differ in last bits.
  it('f32 matmul T=5 K=259 N=13', async () => {
    const [T, K, N] = [5, 259, 13];
    const x = randomArray(T * K, 1);
    const w: WeightTensor = { dtype: 'f32', rows: N, cols: K, data: randomArray(N * K, 2, 0.5) };
    const want = new Float32Array(T * N);
    tsKernels.matmul(want, x, w, T);
    const W = toF32(w);
    const tol = (i: number): number => {
      const [t, n] = [Math.floor(i / N), i % N];
      let absSum = 0;
      for (let k = 0; k < K; k++) absSum += Math.abs(x[t * K + k] * W[n * K + k]);
      return (K + 2) * EPS32 * absSum + EPS32 * Math.abs(want[i]);
    };
    const outs: Float32Array[] = [];
    for (const simd of ['plain', 'relaxed'] as const) {
      const out = new Float32Array(T * N);
      (await createWasmKernels({ ...small, simd })).matmul(out, x, w, T);
      expectClose(out, want, tol, `${simd} matmul`);
      outs.push(out);
    }
    expect(outs[1]).not.toEqual(outs[0]); // the relaxed build really fuses (every x86-64 since 2013 and arm64 has FMA)
  });

  for (const simd of ['plain', 'relaxed'] as const) {
    it(`${simd}: stories260K greedy prints run.c's story`, async () => {
      const { model } = loadModel(`${data}stories260K.bin`);
      const tokenizer = loadTokenizer(`${data}tok512.bin`);
      const kernels = await createModelKernels(model, { simd, threads: 1, contextLength: 64 });
      expect(kernels.simd).toBe(simd);
      let text = 'Once upon a time';
      for await (const piece of generate({ model, tokenizer, kernels, cache: kernels.createKVCache(model.config, 64) }, text, { maxTokens: 60, temperature: 0 })) {
        text += piece;
      }
      expect(text).toBe(STORY);
    });
  }
});
