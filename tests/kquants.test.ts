// The block maths of the K-quants and the other 32-value types (reference/quants-*.ts,
// src/quant/): llama.cpp's own round-trip bounds; the very bytes llama.cpp's quantizers
// write; dequantize(quantize(x)) on random rows
// of any scale, all-zero blocks included; hand-built blocks whose every byte is known (the
// 6-bit scale packing of sub-blocks 4-7 above all); and the fallback of rows that are not
// whole super-blocks. Layout parity with llama.cpp itself: kquants-llamacpp.test.ts.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it, test } from 'vitest';
import { matmul } from '../reference/matmul.js';
import { randomModel } from '../reference/init.js';
import { seededNormal } from '../reference/random.js';
import { dequantizeQ3_K, dequantizeQ4_K, dequantizeQ5_K, dequantizeQ6_K, scaleMinK4, scaleQ3_K } from '../reference/quants-k.js';
import { dequantizeIQ4_NL, dequantizeQ5_0 } from '../reference/quants-legacy.js';
import { BLOCK_VALUES, rowBytes, toF32, type DType } from '../reference/tensor.js';
import { createModelKernels } from '../src/backends/wasm/kernels.js';
import { quantizeModel, storedType } from '../src/convert/storage.js';
import { loadModel } from '../src/formats/load-file.js';
import { quantize } from '../src/quant/quantize.js';
import { quantizeFile } from '../src/convert/quantize-file.js';
import { dataPath, tinyConfig } from './formats-helpers.js';
import { ensureWasmBuilt, wasmPath } from './wasm-helpers.js';

const ALL: DType[] = ['q8_0', 'q4_0', 'q4_1', 'q5_0', 'q5_1', 'iq4_nl', 'q2_k', 'q3_k', 'q4_k', 'q5_k', 'q6_k', 'q8_k'];

function roundTrip(x: Float32Array, rows: number, cols: number, dtype: DType): Float32Array {
  return toF32(quantize(x, rows, cols, dtype));
}

describe("llama.cpp's round-trip bounds (tests/test-quantize-fns.cpp)", () => {
  // 0.1 + 2 cos(i) over 4096 values; error = sqrt(Σ (x − y)²) / n
  const BOUND: Partial<Record<DType, number>> = { q2_k: 0.0075, q3_k: 0.004 };
  test.each(ALL)('%s', (dtype) => {
    const n = 4096;
    const x = Float32Array.from({ length: n }, (_, i) => Math.fround(0.1 + 2 * Math.cos(i)));
    const y = roundTrip(x, 1, n, dtype);
    let sum = 0;
    for (let i = 0; i < n; i++) sum += (x[i] - y[i]) ** 2;
    const error = Math.sqrt(sum) / n;
    console.log(`${dtype}: sqrt(Σ err²)/n = ${error.toExponential(3)} (bound ${BOUND[dtype] ?? 0.002})`);
    expect(error).toBeLessThan(BOUND[dtype] ?? 0.002);
  });
});

describe("the same bytes as llama.cpp's reference quantizers", () => {
  // sha256 (first 32 hex digits) of what ggml-quants.c (the llama.cpp bundled with
  // node-llama-cpp, commit 80fb11a, compiled by hand: quantize_q*_K / quantize_q4_1 /
  // q5_0 / q5_1 / quantize_iq4_nl without an importance matrix, quantize_row_q8_K_ref)
  // writes for the input below: 64 super-blocks of 0.1 + 2 cos(i), of zeros, and of normals
  // at amplitudes 1e-3..1e3 with uneven sub-blocks and offsets.
  const INPUT_SHA = '10490c1a2f1d92097791975d7df3c020';
  const LLAMA_CPP_SHA: Partial<Record<DType, string>> = {
    q2_k: '46cffba1e2de885db5e772d69b9a272b', q3_k: 'a9657a5d632ff1b8dc28bc8d7c37d45d',
    q4_k: '279bb85585d65bc1077518b415e505b6', q5_k: 'd3abae333639fdc94e03e5a00a26c140',
    q6_k: '0ee4dea94f747d9db7088a72a3737648', q8_k: '805c9764758f000c05017de9532963f8',
    q4_1: '08475ad41f58d68de3db26293cad9b40', q5_0: '922d703b66c71f88ebfe9b38e83b70f9',
    q5_1: '4154751332aeb8aeccb5ffe3b27aed7a', iq4_nl: 'fa636ec2d99b10512fc2f0ac71e380fd',
  };
  const n = 256 * 64;
  const normal = seededNormal(2024);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const b = i >> 8;
    const amplitude = 10 ** ((b % 7) - 3), spread = 1 + ((i >> 4) % 5), offset = b % 3 === 0 ? 0.5 : 0;
    x[i] = Math.fround(b < 16 ? 0.1 + 2 * Math.cos(i) : b % 11 === 5 ? 0 : amplitude * (normal() * spread + offset));
  }
  const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex').slice(0, 32);

  it('the input is the one llama.cpp quantized', () => {
    expect(sha(new Uint8Array(x.buffer))).toBe(INPUT_SHA);
  });
  test.each(Object.keys(LLAMA_CPP_SHA) as DType[])('%s', (dtype) => {
    expect(sha(quantize(x, 1, n, dtype).data as Uint8Array)).toBe(LLAMA_CPP_SHA[dtype]);
  });
});

describe('dequantize(quantize(x)) on random rows', () => {
  // Largest |x − y| over a block of 256, relative to that block's largest |x| (measured
  // worst over varied data, then about 1.5×): a misplaced bit of a scale or quant breaks it.
  const REL: Record<string, number> = {
    q8_0: 0.008, q4_0: 0.15, q4_1: 0.15, q5_0: 0.075, q5_1: 0.075, iq4_nl: 0.12,
    q2_k: 0.45, q3_k: 0.3, q4_k: 0.13, q5_k: 0.065, q6_k: 0.032, q8_k: 0.008,
  };
  const rowArb = fc.record({
    superBlocks: fc.integer({ min: 1, max: 3 }),
    rows: fc.integer({ min: 1, max: 2 }),
    logScale: fc.double({ min: -3, max: 3, noNaN: true }), // amplitudes 1e-3 .. 1e3
    offset: fc.double({ min: -2, max: 2, noNaN: true }), // a shifted mean (the min of q*_1, q*_K)
    zeroBlock: fc.integer({ min: -1, max: 5 }), // a super-block of zeros (or none)
    seed: fc.integer(),
  });
  test.each(ALL)('%s', (dtype) => {
    fc.assert(
      fc.property(rowArb, ({ superBlocks, rows, logScale, offset, zeroBlock, seed }) => {
        const cols = 256 * superBlocks;
        const scale = 10 ** logScale;
        const normal = gaussian(seed);
        const x = Float32Array.from({ length: rows * cols }, (_, i) => {
          const spread = 1 + ((i >> 4) % 5); // sub-blocks of different ranges
          return Math.fround(scale * (normal() * spread + offset));
        });
        if (zeroBlock >= 0 && zeroBlock < rows * superBlocks) x.fill(0, 256 * zeroBlock, 256 * zeroBlock + 256);
        const y = roundTrip(x, rows, cols, dtype);
        for (let b = 0; b < x.length / 256; b++) {
          let amax = 0;
          for (let i = 256 * b; i < 256 * b + 256; i++) amax = Math.max(amax, Math.abs(x[i]));
          for (let i = 256 * b; i < 256 * b + 256; i++) {
            if (amax === 0) expect(Math.abs(y[i])).toBe(0); // zeros stay exactly zero (±0)
            else expect(Math.abs(x[i] - y[i])).toBeLessThanOrEqual(REL[dtype] * amax);
          }
        }
      }),
      { numRuns: 25 },
    );
  });

  it('quantizing twice gives the same bytes (deterministic), and rows are independent', () => {
    const normal = gaussian(3);
    const x = Float32Array.from({ length: 2 * 512 }, () => Math.fround(normal()));
    for (const dtype of ALL) {
      const both = quantize(x, 2, 512, dtype).data as Uint8Array;
      expect(quantize(x, 2, 512, dtype).data).toEqual(both);
      const second = quantize(x.subarray(512), 1, 512, dtype).data as Uint8Array;
      expect(both.subarray(rowBytes(dtype, 512))).toEqual(second);
    }
  });
});

// A Box-Muller normal generator from a seed (fast-check gives the seed).
function gaussian(seed: number): () => number {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

describe('hand-built blocks', () => {
  // Q4_K / Q5_K scale bytes for sc = 1, 2, 3, 4, 33, 47, 60, 63 and m = 0, 1, 2, 3, 17, 34, 51, 63,
  // packed by hand: bytes 0-3 sc0..3 with the top bits (5-4) of sc4..7 in bits 7-6; bytes 4-7
  // m0..3 with the top bits of m4..7; bytes 8-11 the low nibbles of sc4..7 | m4..7 << 4.
  //   sc4 = 33 = 0b10_0001  sc5 = 47 = 0b10_1111  sc6 = 60 = 0b11_1100  sc7 = 63 = 0b11_1111
  //   m4  = 17 = 0b01_0001  m5  = 34 = 0b10_0010  m6  = 51 = 0b11_0011  m7  = 63 = 0b11_1111
  const SCALES = [0x81, 0x82, 0xc3, 0xc4, 0x40, 0x81, 0xc2, 0xc3, 0x11, 0x2f, 0x3c, 0xff];
  const SC = [1, 2, 3, 4, 33, 47, 60, 63];
  const M = [0, 1, 2, 3, 17, 34, 51, 63];

  it('the 6-bit scales and mins of sub-blocks 0-3 and 4-7 unpack as drawn', () => {
    const bytes = Uint8Array.from(SCALES);
    for (let j = 0; j < 8; j++) expect(scaleMinK4(bytes, 0, j)).toEqual({ sc: SC[j], m: M[j] });
  });

  it('Q4_K: d = 1, dmin = 0.5, every quant 1 then 15: x = sc·q − m/2', () => {
    const block = new Uint8Array(144);
    block.set([0x00, 0x3c, 0x00, 0x38], 0); // d = 1.0, dmin = 0.5 (halves, little-endian)
    block.set(SCALES, 4);
    block.fill(0xf1, 16); // low nibble 1 (values 64c + 0..31), high nibble 15 (64c + 32..63)
    const out = new Float32Array(256);
    dequantizeQ4_K(block, 0, out, 0);
    for (let v = 0; v < 256; v++) {
      const j = v >> 5;
      expect(out[v]).toBe(SC[j] * (v & 32 ? 15 : 1) - M[j] / 2);
    }
  });

  it('Q5_K: the fifth bit of value v is bit v >> 5 of qh[v & 31]', () => {
    const block = new Uint8Array(176);
    block.set([0x00, 0x3c, 0x00, 0x00], 0); // d = 1, dmin = 0
    block.set(SCALES, 4);
    block[16 + 5] = 0b1000_0001; // values 5 and 7·32 + 5 = 229 get +16
    block.fill(0x32, 48); // low nibble 2, high nibble 3
    const out = new Float32Array(256);
    dequantizeQ5_K(block, 0, out, 0);
    for (let v = 0; v < 256; v++) {
      const q = (v & 32 ? 3 : 2) + (v === 5 || v === 229 ? 16 : 0);
      expect(out[v]).toBe(SC[v >> 5] * q);
    }
  });

  it('Q3_K: 16 signed 6-bit scales from 12 bytes, and the high bit from hmask (set = no −4)', () => {
    // s_j = 32 + j − 8 (−8..7 after the offset of 32) for j = 0..15: low nibbles in bytes 0-7,
    // top two bits in bytes 8-11 (byte 8 + j % 4, bits 2·(j / 4))
    const s = Array.from({ length: 16 }, (_, j) => 24 + j);
    const block = new Uint8Array(110);
    for (let j = 0; j < 16; j++) {
      if (j < 8) block[96 + j] |= s[j] & 0x0f;
      else block[96 + j - 8] |= (s[j] & 0x0f) << 4;
      block[96 + 8 + (j % 4)] |= (s[j] >> 4) << (2 * (j >> 2));
    }
    for (let j = 0; j < 16; j++) expect(scaleQ3_K(block, 96, j)).toBe(s[j]);
    block.set([0x00, 0x3c], 108); // d = 1
    block.fill(0b11_10_01_00, 32, 96); // 2-bit planes: value 128h + 32s + l has low bits s
    block[0] = 0xff; // values 0, 32, 64, ..., 224 (l = 0) have the high bit
    const out = new Float32Array(256);
    dequantizeQ3_K(block, 0, out, 0);
    for (let v = 0; v < 256; v++) {
      const q = ((v >> 5) & 3) - ((v & 31) === 0 ? 0 : 4);
      expect(out[v] + 0).toBe((s[v >> 4] - 32) * q + 0); // + 0: −0 and 0 alike
    }
  });

  it('Q6_K: low nibbles, high bit pairs and int8 scales by quarter and half', () => {
    const block = new Uint8Array(210);
    for (let j = 0; j < 16; j++) block[192 + j] = (j - 8) & 0xff; // scales −8..7
    block.set([0x00, 0x38], 208); // d = 0.5
    // value v = 128h + 32r + l: low nibble r + 4h, high bits (r + h) & 3, for every l
    for (let h = 0; h < 2; h++) {
      for (let l = 0; l < 32; l++) {
        block[64 * h + l] = (0 + 4 * h) | ((2 + 4 * h) << 4);
        block[64 * h + 32 + l] = (1 + 4 * h) | ((3 + 4 * h) << 4);
        block[128 + 32 * h + l] = [0, 1, 2, 3].reduce((acc, r) => acc | (((r + h) & 3) << (2 * r)), 0);
      }
    }
    const out = new Float32Array(256);
    dequantizeQ6_K(block, 0, out, 0);
    for (let v = 0; v < 256; v++) {
      const h = v >> 7, r = (v >> 5) & 3;
      const q = (r + 4 * h) | (((r + h) & 3) << 4);
      expect(out[v] + 0).toBe(0.5 * ((v >> 4) - 8) * (q - 32) + 0);
    }
  });

  it('Q5_0 and IQ4_NL: the fifth bit from a little-endian u32, and the non-linear table', () => {
    const q5 = new Uint8Array(22);
    q5.set([0x00, 0x3c, 0x01, 0x00, 0x00, 0x80], 0); // d = 1; qh bits 0 and 31
    q5.fill(0x00, 6);
    const out = new Float32Array(32);
    dequantizeQ5_0(q5, 0, out, 0);
    expect(out[0]).toBe(0); // 16 − 16
    expect(out[31]).toBe(0);
    expect(out[1]).toBe(-16);
    const iq4 = new Uint8Array(18);
    iq4.set([0x00, 0x40], 0); // d = 2
    iq4[2] = 0xf0; // value 0: level 0 (−127), value 16: level 15 (113)
    dequantizeIQ4_NL(iq4, 0, out, 0);
    expect(out[0]).toBe(-254);
    expect(out[16]).toBe(226);
  });
});

describe('rows that are not whole super-blocks fall back as llama.cpp does', () => {
  it('storedType: a K-quant row of 288 values takes its 32-value type, 48 values f16', () => {
    const t288 = { dtype: 'f32' as const, rows: 2, cols: 288, data: new Float32Array(576) };
    const t48 = { ...t288, cols: 48, data: new Float32Array(96) };
    const want: Record<string, DType> = { q2_k: 'q4_0', q3_k: 'q4_0', q4_k: 'q5_0', q5_k: 'q5_1', q6_k: 'q8_0' };
    for (const [k, fallback] of Object.entries(want)) {
      expect(storedType(t288, k as DType)).toBe(fallback);
      expect(storedType(t48, k as DType)).toBe('f16');
      expect(storedType({ ...t288, cols: 512 }, k as DType)).toBe(k);
    }
  });

  it('quantizeModel says which tensors fell back, and to what', () => {
    const model = randomModel(tinyConfig({ dim: 256, hiddenDim: 288, nHeads: 4, nKvHeads: 2, vocabSize: 64 }), 5);
    const notes: string[] = [];
    const q = quantizeModel(model, 'q4_k', notes);
    expect(q.weights.layers[0].w1.dtype).toBe('q4_k'); // [288, 256]: rows of 256
    expect(q.weights.layers[0].w2.dtype).toBe('q5_0'); // [256, 288]: rows of 288
    expect(BLOCK_VALUES[q.weights.layers[0].w2.dtype]).toBe(32);
    expect(notes.join('\n')).toMatch(/stored as q5_0 instead of q4_k \(as llama\.cpp falls back\), rows not a multiple of 256 values: layers\.0\.feed_forward\.w2\.weight, layers\.1\.feed_forward\.w2\.weight/);
  });

  it('quantize itself refuses a row that is not whole blocks, naming the type and block', () => {
    expect(() => quantize(new Float32Array(288), 1, 288, 'q6_k')).toThrow(/quantize q6_k: a row of 288 values is not whole blocks of 256/);
    expect(() => rowBytes('q4_k', 288)).toThrow(/q4_k rows need a multiple of 256 values, got 288/);
  });
});

describe('quantize a real model to a K-quant: stories260K (dim 64, hidden 172)', () => {
  it('q4_k: rows of 64 fall back to q5_0, rows of 172 to f16, and the file reads back as written', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kquants-'));
    try {
      const out = join(dir, 'q4k.gguf');
      const result = quantizeFile(dataPath('stories260K/stories260K.gguf'), out, { type: 'q4_k' });
      expect(result.quantized).toEqual([]); // no row is 256 values long
      expect(result.fallback).toHaveLength(1 + 5 * 6); // the embedding and six matrices a layer
      expect(result.fallback[0]).toBe('tok_embeddings.weight as q5_0 (rows of 64 values are not whole blocks of 256)');
      expect(result.f16).toEqual([0, 1, 2, 3, 4].map((l) => `layers.${l}.feed_forward.w2.weight (rows of 172 values are not whole blocks of 32)`));
      expect(result.notes.join('\n')).toMatch(/stored as q5_0 instead of q4_k \(as llama\.cpp falls back\), rows not a multiple of 256 values: tok_embeddings\.weight, layers\.0\.attention\.wq\.weight/);
      const back = loadModel(out).model;
      expect(back.weights.layers[0].wq.dtype).toBe('q5_0');
      expect(back.weights.layers[0].w2.dtype).toBe('f16');
      expect(toF32(back.weights.layers[0].wq)).toEqual(toF32(result.model.weights.layers[0].wq));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the wasm backend runs the K-quants as stored', () => {
  it('createModelKernels: a q4_k model is placed at its stored size, without notes, and a prompt multiplies as the reference', async () => {
    ensureWasmBuilt();
    const model = randomModel(tinyConfig({ dim: 256, hiddenDim: 256, nHeads: 4, nKvHeads: 2, vocabSize: 32, nLayers: 1, sharedClassifier: false }), 9);
    const q = quantizeModel(model, 'q4_k');
    // f32 activations: the relaxed build's prompts otherwise round them to 8 bits (kgemm.ts,
    // checked in tests/wasm-kquants.test.ts)
    const kernels = await createModelKernels(q, { threads: 1, wasmPath, activations: 'f32' });
    try {
      expect(kernels.notes).toEqual([]); // nothing decoded to f16 (widen.ts)
      const w = q.weights.layers[0].w1;
      expect(kernels.memoryUsage().weights).toBeLessThan(8 * w.data.byteLength + 64 * 64);
      // T = 4, a prompt: rows decoded exactly into f32 (assembly/kblocks.ts), products in f32
      const x = Float32Array.from({ length: 4 * 256 }, (_, i) => Math.sin(i));
      const got = new Float32Array(4 * 256);
      kernels.matmul(got, x, w, 4);
      const want = new Float32Array(4 * 256);
      matmul(want, x, w, 4);
      for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThan(1e-4 * (1 + Math.abs(want[i])));
    } finally {
      await kernels.close();
    }
  });
});
