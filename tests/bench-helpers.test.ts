// The pure parts of bench/: the bench model shapes and their generator, bytes and FLOPs per
// token, the kernel-case arithmetic, flag parsing, the targets, and the e2e JSON report shape.
// No timings are asserted here (speed lives in bench/, never in a test).
import { describe, expect, test } from 'vitest';
import { validateConfig, type LlamaConfig } from '../reference/config.js';
import { toF32 } from '../reference/tensor.js';
import { intFlag, listFlag, parseFlags, selects } from '../bench/lib/args.js';
import { addSpeedups, attentionWork, matmulWork, rates, type KernelResult } from '../bench/lib/kernel-cases.js';
import { BENCH_DTYPES, benchModel, matmulFlopsPerToken, parameterCount, SHAPE_NAMES, SHAPES, storedWeightBytesPerToken, weightBytesPerToken } from '../bench/lib/models.js';
import { quantizeModel, quantizeModelMixture } from '../src/convert/storage.js';
import { checkReport, formatTable, makeRow, scalingNotes, summarize, targetRatio, type E2EReport } from '../bench/lib/report.js';
import { median } from '../bench/lib/stats.js';
import { benchPrompt, leadingAgreement } from '../bench/lib/tokens.js';

const tiny: LlamaConfig = {
  dim: 64, nLayers: 2, nHeads: 4, nKvHeads: 2, hiddenDim: 96, vocabSize: 100, maxSeqLen: 32,
  normEps: 1e-5, ropeTheta: 10000, sharedClassifier: true,
};

describe('bench model shapes', () => {
  test('stories15M and stories110M have the llama2.c parameter counts', () => {
    for (const s of SHAPE_NAMES) validateConfig(SHAPES[s], s);
    expect(parameterCount(SHAPES['15M'])).toBe(15_191_712);
    expect(parameterCount(SHAPES['110M'])).toBe(109_529_856);
  });

  test('weight bytes per token: F32 is 4 bytes a weight read, Q8_0 34/32, Q4_0 18/32', () => {
    const c = SHAPES['15M'];
    const matrices = 6 * (4 * 288 * 288 + 3 * 288 * 768) + 32000 * 288; // layers + classifier
    const extra = (bytesPerValue: number) => 288 * bytesPerValue + (2 * 6 + 1) * 288 * 4; // one embedding row + norms
    expect(weightBytesPerToken(c, 'f32')).toBe(matrices * 4 + extra(4));
    expect(weightBytesPerToken(c, 'q8_0')).toBe((matrices / 32) * 34 + extra(34 / 32));
    expect(weightBytesPerToken(c, 'q4_0')).toBe((matrices / 32) * 18 + extra(18 / 32));
    expect(matmulFlopsPerToken(c)).toBe(2 * matrices);
  });

  test('the bytes of a stored model are those of weightBytesPerToken for one type, and add up per matrix for a mixture', () => {
    const model = benchModel(tiny, 9);
    for (const dtype of ['f32', 'q8_0', 'q4_0'] as const) {
      expect(storedWeightBytesPerToken(quantizeModel(model, dtype))).toBe(weightBytesPerToken(tiny, dtype));
    }
    // dim 256: Q4_K_M keeps output and, on layer 1 of 2, attn_v and ffn_down in q6_k (210 bytes
    // per 256 values), the rest q4_k (144)
    const c: LlamaConfig = { ...tiny, dim: 256, nHeads: 4, nKvHeads: 4, hiddenDim: 256, vocabSize: 64, sharedClassifier: false };
    const mixed = quantizeModelMixture(benchModel(c, 9), 'q4_k_m');
    const q4 = 144 / 256;
    const q6 = 210 / 256;
    const square = 256 * 256;
    const layers = 14 * square * q4 + 2 * square * (q6 - q4) + 2 * 2 * 256 * 4; // 14 matrices, 2 upgraded, norms
    expect(storedWeightBytesPerToken(mixed)).toBeCloseTo(layers + 64 * 256 * q6 + 256 * q4 + 256 * 4, 6);
  });

  test('grouped KV heads shrink wk and wv in the byte count', () => {
    const full = { ...tiny, nKvHeads: 4 };
    const hd = tiny.dim / tiny.nHeads;
    expect(weightBytesPerToken(full, 'f32') - weightBytesPerToken(tiny, 'f32')).toBe(tiny.nLayers * 2 * 2 * hd * tiny.dim * 4);
  });

  test('the generator is seeded, std 0.02, gains one, classifier shared', () => {
    const a = benchModel(tiny, 7);
    const b = benchModel(tiny, 7);
    const c = benchModel(tiny, 8);
    const wq = toF32(a.weights.layers[0].wq);
    expect(Array.from(toF32(b.weights.layers[0].wq))).toEqual(Array.from(wq));
    expect(toF32(c.weights.layers[0].wq)[0]).not.toBe(wq[0]);
    const all = toF32(a.weights.tokenEmbedding);
    const mean = all.reduce((s, x) => s + x, 0) / all.length;
    const std = Math.sqrt(all.reduce((s, x) => s + (x - mean) ** 2, 0) / all.length);
    expect(Math.abs(mean)).toBeLessThan(0.002);
    expect(std).toBeGreaterThan(0.018);
    expect(std).toBeLessThan(0.022);
    expect(Array.from(a.weights.norm).every((g) => g === 1)).toBe(true);
    expect(a.weights.output).toBe(a.weights.tokenEmbedding);
    expect(a.weights.layers[1].wk.rows).toBe(32); // nKvHeads * hd
  });

  test('every bench storage type can store both shapes', () => {
    expect(BENCH_DTYPES).toEqual(['f32', 'q8_0', 'q4_0', 'q4_k_m', 'q5_k_m', 'q6_k', 'q3_k_m', 'q2_k']);
    for (const s of SHAPE_NAMES) {
      const c = SHAPES[s];
      expect(c.dim % 32).toBe(0);
      expect(c.hiddenDim % 32).toBe(0);
    }
  });
});

describe('bench prompt tokens', () => {
  test('BOS first, then seeded ordinary tokens inside the vocabulary', () => {
    const p = benchPrompt(128, 32000, 15);
    expect(p).toHaveLength(128);
    expect(p[0]).toBe(1);
    expect(p.slice(1).every((t) => Number.isInteger(t) && t >= 3 && t < 32000)).toBe(true);
    expect(benchPrompt(128, 32000, 15)).toEqual(p);
    expect(benchPrompt(128, 32000, 16)).not.toEqual(p);
    expect(() => benchPrompt(0, 32000, 1)).toThrow(/bad length 0/);
  });

  test('leadingAgreement counts the common prefix', () => {
    expect(leadingAgreement([5, 6, 7], [5, 6, 8, 9])).toBe(2);
    expect(leadingAgreement([1, 2], [1, 2])).toBe(2);
    expect(leadingAgreement([], [1])).toBe(0);
  });
});

describe('kernel cases', () => {
  test('matmul work: 2·T·N·K flops, weight bytes by storage type', () => {
    const shape = { name: 'x', N: 64, K: 96 };
    expect(matmulWork(shape, 'f32', 16)).toEqual({ flops: 2 * 16 * 64 * 96, bytes: 64 * 96 * 4 });
    expect(matmulWork(shape, 'f16', 1).bytes).toBe(64 * 96 * 2);
    expect(matmulWork(shape, 'q8_0', 1).bytes).toBe(64 * 3 * 34);
    expect(matmulWork(shape, 'q4_0', 1).bytes).toBe(64 * 3 * 18);
    expect(attentionWork(256, 32, 8, 128)).toEqual({ flops: 4 * 32 * 128 * 256, bytes: 8 * 256 * 8 * 128 });
  });

  test('rates and speed-ups', () => {
    expect(rates({ flops: 2e9, bytes: 5e8 }, 0.5)).toEqual({ gflops: 4, gbPerSecond: 1 });
    const r = (impl: string, s: number): KernelResult => ({
      kernel: 'matmul', shape: 'a T=1', dtype: 'f32', impl, secondsPerCall: s, rme: 1, samples: 3, gflops: 0, gbPerSecond: 0,
    });
    const results = [r('ts', 0.9), r('wasm', 0.1), { ...r('wasm', 0.1), dtype: 'q8_0' as const }];
    addSpeedups(results);
    expect(results[0].speedupOverTs).toBeUndefined();
    expect(results[1].speedupOverTs).toBe(9);
    expect(results[2].speedupOverTs).toBeUndefined(); // no TS result for that dtype
  });
});

describe('flags', () => {
  test('values, switches, lists and errors', () => {
    const f = parseFlags(['--only', '15M,q8_0', '--reps=2', '--quick'], ['only', 'reps'], ['quick']);
    expect(listFlag(f, 'only', [])).toEqual(['15M', 'q8_0']);
    expect(intFlag(f, 'reps', 3)).toBe(2);
    expect(intFlag(f, 'decode', 64)).toBe(64);
    expect(f.get('quick')).toBe(true);
    expect(() => parseFlags(['--bogus'], ['only'], ['quick'])).toThrow(/unknown flag --bogus/);
    expect(() => parseFlags(['--only'], ['only'], [])).toThrow(/--only needs a value/);
    expect(() => intFlag(parseFlags(['--reps', '0'], ['reps'], []), 'reps', 3)).toThrow(/--reps must be an integer in 1/);
  });

  test('--only selects shapes and dtypes independently', () => {
    const shapes = ['15M', '110M'];
    const dtypes = ['f32', 'q8_0', 'q4_0'];
    expect(selects([], '110M', 'q4_0', shapes, dtypes)).toBe(true);
    expect(selects(['15m'], '15M', 'q4_0', shapes, dtypes)).toBe(true);
    expect(selects(['15M'], '110M', 'f32', shapes, dtypes)).toBe(false);
    expect(selects(['q8_0'], '110M', 'q8_0', shapes, dtypes)).toBe(true);
    expect(selects(['15M', 'q8_0'], '15M', 'f32', shapes, dtypes)).toBe(false);
    expect(() => selects(['7B'], '15M', 'f32', shapes, dtypes)).toThrow(/"7b" is neither a shape/);
  });
});

describe('e2e report', () => {
  test('targets follow issues 17 and 12', () => {
    expect(targetRatio('15M', 'f32', 'decode')).toBe(1.0);
    expect(targetRatio('110M', 'q8_0', 'decode')).toBe(1.0);
    expect(targetRatio('110M', 'q4_k_m', 'decode')).toBe(1.0);
    expect(targetRatio('15M', 'f32', 'prompt')).toBe(1.0);
    expect(targetRatio('15M', 'q4_0', 'prompt')).toBe(0.8);
    expect(targetRatio('110M', 'q6_k', 'prompt')).toBe(0.7);
  });

  test('a row takes medians, ratio, PASS/MISS and the bandwidth fraction', () => {
    const row = makeRow(
      { shape: '15M', dtype: 'f32', threads: 1, ourThreads: 1, phase: 'decode', tokens: 64, weightBytesPerToken: 1e8 },
      [100, 130, 120], [110, 90, 100], 20,
    );
    expect(row.ours.tokensPerSecond).toBe(120);
    expect(row.llamaCpp.tokensPerSecond).toBe(100);
    expect(row.ratio).toBe(1.2);
    expect(row.pass).toBe(true);
    expect(row.bandwidthFraction).toEqual({ ours: 0.6, llamaCpp: 0.5 });
    const prompt = makeRow({ shape: '110M', dtype: 'q4_0', threads: 2, ourThreads: 2, phase: 'prompt', tokens: 128, weightBytesPerToken: 1 }, [40], [100]);
    expect(prompt.ratio).toBe(0.4);
    expect(prompt.pass).toBe(false);
    expect(prompt.bandwidthFraction).toBeUndefined();
    expect(median([3, 1, 2, 10])).toBe(2.5);

    const table = formatTable([row, prompt]).split('\n');
    expect(table).toHaveLength(4);
    expect(table[2]).toMatch(/^15M\s+f32\s+1\s+decode\s+64\s+120\.0\s+100\.0\s+1\.20\s+≥1\.0\s+PASS\s+60%\s+50%$/);
    expect(table[3]).toMatch(/MISS/);
    expect(summarize([row, prompt])).toEqual({ rows: 2, pass: 1, miss: 1 });
  });

  test('checkReport accepts a well-formed report and names what is wrong', () => {
    const row = makeRow({ shape: '15M', dtype: 'q8_0', threads: 1, ourThreads: 1, phase: 'prompt', tokens: 128, weightBytesPerToken: 1 }, [60], [100]);
    const report: E2EReport = {
      schema: 'llama-ts-bench-e2e/1', date: '2025-01-01T00:00:00.000Z',
      machine: { cpuModel: 'cpu', cores: 2, memoryGiB: 8, node: 'v20', v8: '11', platform: 'linux', arch: 'x64', loadavgBefore: [0, 0, 0], loadavgAfter: [0, 0, 0] },
      settings: {
        repetitions: 1, decodeTokens: 64, decodeSeconds: 6, decodePromptTokens: 8, promptTokens: 128, threads: [1], wasm: 'kernels.wasm',
        llamaCpp: { nodeLlamaCpp: '3', release: 'r', buildType: 'prebuilt', systemInfo: '', kvCacheType: 'F16', batchSize: 256 },
      },
      bandwidth: null, rows: [row], summary: summarize([row]), training: null,
    };
    const roundTrip: unknown = JSON.parse(JSON.stringify(report));
    expect(() => checkReport(roundTrip)).not.toThrow();
    expect(() => checkReport({ ...report, schema: 'x' })).toThrow(/schema/);
    const { training: _training, ...noHook } = report;
    expect(() => checkReport(noHook)).toThrow(/training hook/);
    expect(() => checkReport({ ...report, rows: [{ ...row, ratio: NaN }] })).toThrow(/rows\[0\]\.ratio/);
  });
});

describe('scaling notes', () => {
  test('flag an engine slower with more threads', () => {
    const base = { shape: '15M', dtype: 'f32' as const, ourThreads: 1, phase: 'decode' as const, tokens: 64, weightBytesPerToken: 1 };
    const rows = [
      makeRow({ ...base, threads: 1 }, [100], [200]),
      makeRow({ ...base, threads: 2, ourThreads: 2 }, [150], [20]),
    ];
    expect(scalingNotes(rows)).toEqual(['15M f32 decode: llama.cpp at 2 threads runs 0.10× its 1-thread speed']);
  });
});
