// reference/random.ts: the seeded streams that initialization, batches and sampling draw from.
// The numbers below were printed by the generators before they moved into this file; a seed
// must keep naming the same model, batches and text.
import { expect, test } from 'vitest';
import { randomModel } from '../reference/init.js';
import { Rng, seededNormal, seededUniform } from '../reference/random.js';

test('xoshiro128** (Rng) from seed 7', () => {
  const r = new Rng(7);
  expect(Array.from({ length: 4 }, () => r.nextU32())).toEqual([1004282400, 2200021487, 1928073449, 741806228]);
});

test('mulberry32 uniforms and Box–Muller normals', () => {
  const u = seededUniform(1);
  expect(Array.from({ length: 3 }, () => u())).toEqual([0.6270739405881613, 0.002735721180215478, 0.5274470399599522]);
  const n = seededNormal(2);
  expect(Array.from({ length: 3 }, () => n())).toEqual([-0.7390852612848761, -0.7964215030090792, -1.3889867154740847]);
});

test('randomModel draws matrices and gains in Meta order, as before', () => {
  const config = { dim: 8, nLayers: 2, nHeads: 2, nKvHeads: 1, hiddenDim: 12, vocabSize: 10, maxSeqLen: 4, normEps: 1e-5, ropeTheta: 10000, sharedClassifier: false };
  const w = randomModel(config, 11, { gainJitter: 0.5 }).weights;
  expect(Array.from(w.tokenEmbedding.data.slice(0, 3))).toEqual([-0.02352057583630085, -0.02309964783489704, -0.03790292143821716]);
  expect(Array.from(w.layers[1].wq.data.slice(0, 2))).toEqual([0.05095070227980614, -0.026577053591609]);
  expect(Array.from(w.layers[1].ffnNorm.slice(0, 2))).toEqual([0.6276487112045288, 1.1383998394012451]);
  expect(Array.from(w.layers[1].w3.data.slice(-2))).toEqual([-0.004448217339813709, -0.030681289732456207]);
  expect(Array.from(w.output.data.slice(-2))).toEqual([0.017348580062389374, -0.014577461406588554]);
  expect(Array.from(w.norm.slice(-2))).toEqual([1.3954195976257324, 0.723105788230896]);
});
