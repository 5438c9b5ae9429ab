// golden/quant/blocks.safetensors: random blocks of every block type llama-ts reads, with the
// values an independent NumPy decoder (golden/torch/quants.py, written from ggml's layouts)
// gives them. llama-ts's readable decoders (reference/quants-*.ts via readRow) and its WASM
// row decode (assembly/kblocks.ts, blocks.ts) must give the same numbers exactly: ggml
// defines the decode in float32, one rounding per operation, and both follow that order.
//
// The WASM kernels decode a row only inside matmul, so the row decode is read through a
// product with the identity: out[k, n] = Σ_j I[k, j]·W[n, j] = W[n, k], one non-zero product
// of 1·W[n, k] (exact) and zeros, so any difference is the decode's. T = K ≥ 4 tokens takes the
// f32-activation path (PROMPT_TOKENS in src/backends/wasm/kernels.ts) for every type.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { toF32, type DType, type WeightTensor } from '../reference/tensor.js';
import { tsKernels } from '../reference/ts-kernels.js';
import { createWasmKernels, type WasmKernels } from '../src/backends/wasm/kernels.js';
import { hasWasmMatmul } from '../src/backends/wasm/widen.js';
import { writeSafetensors } from '../src/formats/safetensors.js';
import { conformSelf } from '../src/conform/conform.js';
import { caseModel, readManifest } from '../src/conform/golden.js';
import { conformQuantBlocks, decodeQuantBlocksSelf, quantBlocksSpec, readQuantBlocks, type QuantBlockSet } from '../src/conform/quant-golden.js';
import { ensureWasmBuilt, wasmPath } from './wasm-helpers.js';

const manifest = readManifest();
const sets = readQuantBlocks(manifest.root);

const root = resolve(__dirname, '..');
const rawManifest = JSON.parse(readFileSync(join(manifest.root, 'manifest.json'), 'utf8'));
const BLOCK_CASES = ['q8_0-blocks', 'q4_0-blocks'];

let wasm: WasmKernels; // the default: 8-bit activations for quantized weights when decoding
let wasmF32: WasmKernels; // f32 activations everywhere: the row decode's own arithmetic
beforeAll(async () => {
  ensureWasmBuilt();
  wasm = await createWasmKernels({ maxMemoryBytes: 1 << 28, wasmPath, threads: 1 });
  wasmF32 = await createWasmKernels({ maxMemoryBytes: 1 << 28, wasmPath, threads: 1, activations: 'f32' });
});
afterAll(async () => {
  await wasm?.close();
  await wasmF32?.close();
});

// The first element where got and want differ as numbers (±0 alike), or null.
function firstDifference(got: Float32Array, want: Float32Array): string | null {
  for (let i = 0; i < want.length; i++) {
    if (got[i] !== want[i]) return `element ${i}: ${got[i]} vs golden ${want[i]}`;
  }
  return null;
}

function weightOf(set: QuantBlockSet): WeightTensor {
  return { dtype: set.type.toLowerCase() as DType, rows: set.rows, cols: set.cols, data: set.blocks };
}

describe('golden quantization blocks', () => {
  test('cover every block type llama-ts reads, with rows of several (super-)blocks and all-zero blocks', () => {
    expect(sets.map((s) => s.type)).toEqual(['Q8_0', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'IQ4_NL', 'Q2_K', 'Q3_K', 'Q4_K', 'Q5_K', 'Q6_K', 'Q8_K']);
    for (const s of sets) {
      expect(s.cols / s.blockValues, s.type).toBeGreaterThanOrEqual(3);
      const zeroBlocks = Array.from({ length: s.blocks.length / s.blockBytes }, (_, b) => s.blocks.subarray(b * s.blockBytes, (b + 1) * s.blockBytes))
        .filter((block) => block.every((x) => x === 0));
      expect(zeroBlocks.length, s.type).toBeGreaterThan(0);
      // the extreme scales reach the values: some |x| above 1e5 (±65504 × quants) and some below 1e-6
      const magnitudes = Array.from(s.values, Math.abs).filter((x) => x > 0);
      expect(Math.max(...magnitudes), s.type).toBeGreaterThan(1e5);
      expect(Math.min(...magnitudes), s.type).toBeLessThan(1e-6);
    }
  });

  for (const s of sets) {
    test(`${s.type}: the reference decoder gives the golden values exactly`, () => {
      expect(firstDifference(toF32(weightOf(s)), s.values)).toBeNull();
    });
  }

  for (const s of sets.filter((x) => hasWasmMatmul(x.type.toLowerCase() as DType))) {
    test(`${s.type}: the WASM row decode gives the golden values exactly (matmul with the identity)`, () => {
      const K = s.cols, N = s.rows;
      const identity = new Float32Array(K * K); // [T = K, K]
      for (let k = 0; k < K; k++) identity[k * K + k] = 1;
      const out = new Float32Array(K * N).fill(NaN); // [K, N]: out[k, n] = W[n, k]
      wasmF32.matmul(out, identity, weightOf(s), K); // f32 activations: 1 × w is w exactly
      const decoded = new Float32Array(N * K);
      for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) decoded[n * K + k] = out[k * N + n];
      expect(firstDifference(decoded, s.values)).toBeNull();
    });
  }

  test('Q8_K has no WASM kernel (widened to f16 at load), so only the reference decoder is checked', () => {
    expect(hasWasmMatmul('q8_k')).toBe(false);
  });

  test('a manifest entry that does not match the file, or an unknown type, is named', () => {
    const spec = quantBlocksSpec(manifest.root);
    const path = join(manifest.root, spec.file);
    const first = spec.types[0];
    expect(() => readQuantBlocks(manifest.root, { ...spec, types: [{ ...first, type: 'Q9_0' }] })).toThrow(`${path}: Q9_0 is not a block type llama-ts knows`);
    expect(() => readQuantBlocks(manifest.root, { ...spec, types: [{ ...first, cols: 96 }] }))
      .toThrow(`${path}: Q8_0.blocks is U8 [6,136], the manifest says U8 [6,102]`);
    expect(() => readQuantBlocks(manifest.root, { ...spec, types: [{ ...first, blocks: 'Q8_0.bytes' }] })).toThrow(`${path}: no tensor "Q8_0.bytes"`);
  });
});

describe('the models stored as blocks (q8_0-blocks, q4_0-blocks)', () => {
  for (const name of BLOCK_CASES) {
    const c = manifest.cases.find((x) => x.name === name)!;
    test(`${name}: llama-ts reads every matrix as blocks and matches the truth in float32 (prompt and decode)`, () => {
      const model = caseModel(manifest, c);
      const type = name.slice(0, 4); // q8_0, q4_0
      expect(model.weights.layers[1].w2.dtype).toBe(type);
      expect(model.weights.output.dtype).toBe(type);
      const r = conformSelf(manifest, c, tsKernels);
      expect(r.ok, `first failure ${r.firstFailure}`).toBe(true);
      expect(r.compared.map((t) => t.name)).toEqual(c.tensors); // forward, loss, decode: no gradients
    });

    // Decoding (T = 1) the WASM kernels round activations to 8 bits for q8_0 / q4_0 weights: far
    // beyond float32 noise, within the bound the manifest states for such ports. The prompt
    // (T = 16 ≥ 4) multiplies f32 activations: every forward tensor within the usual tolerances,
    // except q4_0 in the relaxed-SIMD build, whose prompts round activations to 8 bits too
    // (assembly/qgemm.ts, relaxed SIMD's 8-bit dot product): its logits then within that bound.
    test(`${name}: the default WASM kernels: the prompt within float32 tolerances (or 8-bit), the 8-bit decode within activations_8bit`, () => {
      const r = conformSelf(manifest, c, wasm);
      const bound = rawManifest.cases.find((x: { name: string }) => x.name === name).activations_8bit;
      const eightBitPrompt = name === 'q4_0-blocks' && wasm.simd === 'relaxed';
      if (eightBitPrompt) {
        expect(r.compared.find((t) => t.name === 'layers.0.q')!.ok).toBe(false); // the rounding is really there
        expect(r.compared.find((t) => t.name === 'logits')!.maxAbsError).toBeLessThanOrEqual(bound.decode_logits_atol);
      } else {
        expect(r.compared.filter((t) => !t.ok).map((t) => t.name)).toEqual(['decode_logits']);
      }
      const decode = r.compared.find((t) => t.name === 'decode_logits')!;
      expect(decode.maxAbsError).toBeLessThanOrEqual(bound.decode_logits_atol);
      // the same rounding as the generator's simulation: within a third of its measured error
      expect(Math.abs(decode.maxAbsError - bound.measured_max_abs)).toBeLessThan(bound.measured_max_abs / 3);
    });
  }
});

describe('conform on block decoders (quant-blocks)', () => {
  test('llama-ts\'s decoders conform; a decoder off in one value is named by type, row, column and block', () => {
    const ours = decodeQuantBlocksSelf(sets);
    expect(conformQuantBlocks(sets, ours).ok).toBe(true);
    const broken = new Map(ours);
    const q4k = Float32Array.from(ours.get('Q4_K.values')!);
    q4k[768 + 300] += 1; // row 1, column 300: super-block 1
    broken.set('Q4_K.values', q4k);
    broken.delete('IQ4_NL.values');
    const r = conformQuantBlocks(sets, broken);
    expect(r.ok).toBe(false);
    expect(r.firstFailure).toBe('IQ4_NL.values');
    expect(r.missing).toEqual(['IQ4_NL.values']);
    expect(r.compared.find((t) => t.name === 'Q4_K.values')!.problem).toBe(`1 values differ; first worst at [row=1, col=300] (block 1 of the row): ${q4k[1068]} vs ${sets.find((s) => s.type === 'Q4_K')!.values[1068]}`);
  });

  test('llama-ts conform quant-blocks DUMP: a port\'s decoded values, exit 0 when exact, 1 naming the first type off', () => {
    const dir = mkdtempSync(join(tmpdir(), 'llama-ts-quant-blocks-'));
    const write = (name: string, values: Map<string, Float32Array>) => {
      const path = join(dir, name);
      writeFileSync(path, writeSafetensors([...values].map(([n, v]) => [n, { dtype: 'F32', shape: [v.length], data: v }])));
      return path;
    };
    const ours = decodeQuantBlocksSelf(sets);
    const cli = (path: string) => spawnSync(process.execPath, [join(root, 'dist/cli.js'), 'conform', 'quant-blocks', path], { encoding: 'utf8', timeout: 60_000 });
    const good = cli(write('good.safetensors', ours));
    expect(good.status, good.stderr).toBe(0);
    expect(good.stdout).toMatch(/quant-blocks: PASS, 12 tensors within tolerance/);
    const q5 = Float32Array.from(ours.get('Q5_1.values')!);
    q5[5] += 1; // one value off
    const bad = cli(write('bad.safetensors', new Map([...ours, ['Q5_1.values', q5]])));
    expect(bad.status).toBe(1);
    expect(bad.stdout).toMatch(/Q5_1\.values .*FAIL +1 values differ; first worst at \[row=0, col=5\]/);
    expect(bad.stdout).toMatch(/quant-blocks: FAIL, first divergence at Q5_1\.values/);
  });

  test('llama-ts conform --self covers the block cases, long-positions, quant-blocks and a Q4_K_M model, and exits 0', () => {
    const run = spawnSync(process.execPath, [join(root, 'dist/cli.js'), 'conform', '--self', '--json', '--threads', '1'], { encoding: 'utf8', timeout: 120_000 });
    expect(run.status, run.stderr).toBe(0);
    const reports = run.stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(reports.map((r) => r.case)).toEqual([...manifest.cases.map((c) => c.name), 'quant-blocks', 'q4_k_m (q4_k, q6_k blocks against their float32 dequantization)']);
    expect(reports.filter((r) => !r.ok)).toEqual([]);
    expect(reports.find((r) => r.case === 'quant-blocks').compared.length).toBe(12);
  }, 120_000);
});
