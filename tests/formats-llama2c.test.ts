import { describe, expect, it } from 'vitest';
import { f32ToF16, toF32 } from '../reference/tensor.js';
import { llama2cExpectedBytes, parseLlama2c, readLlama2cHeader, writeLlama2c } from '../src/formats/llama2c.js';
import { loadModel, loadModelFromBytes } from '../src/formats/load-file.js';
import { readFileBytes } from '../src/io/read-file.js';
import { dataPath, randomModel, sameParameters, tinyConfig } from './formats-helpers.js';

const STORIES_BIN = dataPath('stories260K/stories260K.bin');

describe('stories260K.bin (llama2.c version 0)', () => {
  it('loads with the header the README gives', () => {
    const { model, format, gguf } = loadModel(STORIES_BIN);
    expect(format).toBe('llama2c');
    expect(gguf).toBeUndefined();
    expect(model.config).toEqual({
      dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512, maxSeqLen: 512,
      normEps: 1e-5, ropeTheta: 10000, sharedClassifier: true,
    });
    const w = model.weights;
    expect(w.output).toBe(w.tokenEmbedding);
    expect([w.layers[0].wk.rows, w.layers[0].wk.cols]).toEqual([32, 64]);
    expect([w.layers[4].w2.rows, w.layers[4].w2.cols]).toEqual([64, 172]);
    expect(w.layers.length).toBe(5);
  });

  it('weights are views at the offsets the v0 layout implies', () => {
    const bytes = readFileBytes(STORIES_BIN);
    const { model } = loadModelFromBytes(bytes, 'stories260K.bin');
    const w = model.weights;
    expect(w.tokenEmbedding.data.buffer).toBe(bytes.buffer);
    expect(w.tokenEmbedding.data.byteOffset).toBe(28);
    // rms_att stack right after the 512×64 embedding; wq stack after the 5 norms.
    expect(w.layers[0].attentionNorm.byteOffset).toBe(28 + 4 * 512 * 64);
    expect(w.layers[0].wq.data.byteOffset).toBe(28 + 4 * (512 * 64 + 5 * 64));
    const view = new DataView(bytes.buffer);
    expect(w.layers[0].attentionNorm[0]).toBe(view.getFloat32(28 + 4 * 512 * 64, true));
    // RMSNorm gains of a trained model are mostly positive and O(1).
    const gains = Array.from(w.norm);
    expect(gains.filter((g) => g > 0).length).toBeGreaterThan(48);
  });

  it('writing it again as v0 reproduces the file (RoPE tables to float32 accuracy)', () => {
    const bytes = readFileBytes(STORIES_BIN);
    const model = loadModelFromBytes(bytes, 'stories260K.bin').model;
    const again = writeLlama2c(model, 0);
    expect(again.length).toBe(bytes.length);
    const ropeStart = 28 + 4 * (512 * 64 + 5 * (2 * 64 + 2 * 64 * 64 + 2 * 32 * 64 + 3 * 172 * 64) + 64);
    const ropeEnd = ropeStart + 2 * 4 * 512 * 4;
    expect(ropeEnd).toBe(bytes.length);
    expect(Buffer.compare(again.subarray(0, ropeStart), bytes.subarray(0, ropeStart))).toBe(0);
    const ours = new Float32Array(again.slice(ropeStart).buffer);
    const theirs = new Float32Array(bytes.slice(ropeStart).buffer);
    let maxDiff = 0;
    for (let i = 0; i < ours.length; i++) maxDiff = Math.max(maxDiff, Math.abs(ours[i] - theirs[i]));
    expect(maxDiff).toBeLessThan(1e-5); // PyTorch computes the angles (up to 511 rad) in float32
    expect(theirs.subarray(0, 4)).toEqual(new Float32Array([1, 1, 1, 1]));
  });

  it('converts to v1 and back with identical weights', () => {
    const model = loadModel(STORIES_BIN).model;
    const v1 = writeLlama2c(model, 1);
    expect(new TextDecoder().decode(v1.subarray(0, 4))).toBe('24ka'); // 0x616b3432 little-endian
    expect(v1.length).toBe(1056540 - 28 - 2 * 4 * 512 * 4 + 256);
    const back = loadModelFromBytes(v1, 'stories260K.v1.bin');
    expect(back.format).toBe('llama2c');
    expect(back.model.config).toEqual(model.config);
    expect(sameParameters(model, back.model).differing).toEqual([]);
  });
});

describe('llama2.c write → read', () => {
  for (const version of [0, 1] as const) {
    for (const sharedClassifier of [true, false]) {
      it(`v${version}, ${sharedClassifier ? 'shared' : 'separate'} classifier`, () => {
        const model = randomModel(tinyConfig({ sharedClassifier, nKvHeads: 1 }), version * 2 + Number(sharedClassifier));
        const bytes = writeLlama2c(model, version);
        const header = readLlama2cHeader(bytes, 'm.bin');
        expect(header.version).toBe(version);
        expect(BigInt(bytes.length)).toBe(llama2cExpectedBytes(header));
        const C = 8, H = 12, V = 16, KV = 4, L = 2;
        const floats = V * C * (sharedClassifier ? 1 : 2) + L * (2 * C + 2 * C * C + 2 * KV * C + 3 * H * C) + C + (version === 0 ? 2 * 4 * 2 : 0);
        expect(bytes.length).toBe((version === 0 ? 28 : 256) + 4 * floats);
        const view = new DataView(bytes.buffer);
        const vocabField = version === 0 ? view.getInt32(20, true) : view.getInt32(28, true);
        expect(vocabField).toBe(version === 0 && !sharedClassifier ? -16 : 16);
        if (version === 1) expect(bytes[36]).toBe(sharedClassifier ? 1 : 0);
        const back = parseLlama2c(bytes, 'm.bin');
        expect(back.config).toEqual(model.config);
        expect(sameParameters(model, back).differing).toEqual([]);
        expect(back.weights.output === back.weights.tokenEmbedding).toBe(sharedClassifier);
        expect(loadModelFromBytes(bytes, 'm.bin').format).toBe('llama2c');
      });
    }
  }

  it('f16 weights are written dequantized to float32', () => {
    const model = randomModel(tinyConfig(), 21);
    const wq = model.weights.layers[1].wq;
    model.weights.layers[1].wq = { ...wq, dtype: 'f16', data: Uint16Array.from(wq.data as Float32Array, f32ToF16) };
    const back = parseLlama2c(writeLlama2c(model, 1), 'h.bin');
    expect(back.weights.layers[1].wq.dtype).toBe('f32');
    expect(Array.from(back.weights.layers[1].wq.data)).toEqual(Array.from(toF32(model.weights.layers[1].wq)));
  });

  it('refuses to silently drop normEps / ropeTheta the format cannot store', () => {
    const model = randomModel(tinyConfig({ normEps: 1e-6 }), 2);
    expect(() => writeLlama2c(model, 0)).toThrow(/normEps/);
    const bytes = writeLlama2c(model, 0, { allowConfigLoss: true });
    expect(parseLlama2c(bytes, 'x.bin').config.normEps).toBe(1e-5);
  });

  it('refuses tensors whose shape disagrees with the config', () => {
    const model = randomModel(tinyConfig(), 2);
    model.weights.layers[0].w1 = { ...model.weights.layers[0].w1, rows: 6, cols: 16 };
    expect(() => writeLlama2c(model, 0)).toThrow(/layers\.0\.feed_forward\.w1\.weight is \[6, 16\], expected \[12, 8\]/);
  });
});
