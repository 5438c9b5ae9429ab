// conform on llama-ts itself, and on deliberately broken ports: it must name the tensor where
// each classic porting bug first shows.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { softmax } from '../reference/attention.js';
import type { Kernels } from '../reference/kernels.js';
import { rmsnorm } from '../reference/rmsnorm.js';
import { ropeFrequencies } from '../reference/rope.js';
import { tsKernels } from '../reference/ts-kernels.js';
import { createWasmKernels } from '../src/backends/wasm/kernels.js';
import { compareTensor } from '../src/conform/compare.js';
import { conformDumpFile, conformSelf, conformTensors, fromWritten } from '../src/conform/conform.js';
import { dumpForward } from '../src/conform/dump.js';
import { caseModel, findCase, readManifest } from '../src/conform/golden.js';
import { writeSafetensors } from '../src/formats/safetensors.js';

const manifest = readManifest();
const byName = (name: string) => manifest.cases.find((c) => c.name === name)!;

function runBroken(caseName: string, kernels: Kernels) {
  const c = byName(caseName);
  const dump = dumpForward(caseModel(manifest, c), kernels, c.tokens, { targets: c.targets });
  return conformTensors(manifest, c, fromWritten(dump));
}

// Hugging Face's rotate-half pairing (i, i + hd/2) instead of Meta's adjacent pairs.
const rotateHalf: Kernels['rope'] = (x, T, nHeads, hd, pos0, freqs) => {
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < nHeads; h++) {
      for (let i = 0; i < hd / 2; i++) {
        const angle = (pos0 + t) * freqs[i];
        const j = t * nHeads * hd + h * hd + i;
        const x0 = x[j];
        const x1 = x[j + hd / 2];
        x[j] = x0 * Math.cos(angle) - x1 * Math.sin(angle);
        x[j + hd / 2] = x0 * Math.sin(angle) + x1 * Math.cos(angle);
      }
    }
  }
};

// Query head h reading key/value head h % nKvHeads instead of ⌊h / group⌋.
const moduloHeads: Kernels['attention'] = (out, q, kCache, vCache, T, pos0, nHeads, nKvHeads, hd) => {
  const scores = new Float32Array(pos0 + T);
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < nHeads; h++) {
      const kvo = (h % nKvHeads) * hd;
      const qo = t * nHeads * hd + h * hd;
      const n = pos0 + t + 1;
      for (let s = 0; s < n; s++) {
        let dot = 0;
        for (let i = 0; i < hd; i++) dot += q[qo + i] * kCache[s * nKvHeads * hd + kvo + i];
        scores[s] = dot / Math.sqrt(hd);
      }
      softmax(scores, n);
      for (let i = 0; i < hd; i++) {
        let acc = 0;
        for (let s = 0; s < n; s++) acc += scores[s] * vCache[s * nKvHeads * hd + kvo + i];
        out[qo + i] = acc;
      }
    }
  }
};

describe('conform names the first tensor a classic bug breaks', () => {
  test('rotate-half RoPE → layers.0.q', () => {
    const r = runBroken('mha-shared', { ...tsKernels, rope: rotateHalf });
    expect(r.ok).toBe(false);
    expect(r.firstFailure).toBe('layers.0.q');
  });

  test('rope_scaling ignored (θ_i unscaled) → layers.0.q; with it, the case passes', () => {
    const unscaled: Kernels['rope'] = (x, T, nHeads, hd, pos0) => tsKernels.rope(x, T, nHeads, hd, pos0, ropeFrequencies(hd, 500000));
    const r = runBroken('llama3-rope-tied', { ...tsKernels, rope: unscaled });
    expect(r.firstFailure).toBe('layers.0.q');
    expect(runBroken('llama3-rope-tied', tsKernels).ok).toBe(true);
  });

  test('eps 1e-6 instead of 1e-5 → layers.0.attention_norm', () => {
    const r = runBroken('gqa-half-ignore', { ...tsKernels, rmsnorm: (o, x, g, T, C) => rmsnorm(o, x, g, T, C, 1e-6) });
    expect(r.firstFailure).toBe('layers.0.attention_norm');
  });

  test('grouped-KV heads mapped h % n_kv → layers.0.attn', () => {
    const r = runBroken('gqa-half-ignore', { ...tsKernels, attention: moduloHeads });
    expect(r.firstFailure).toBe('layers.0.attn');
    // q, k and v before it are still right
    expect(r.compared.filter((t) => t.name.startsWith('layers.0.') && ['q', 'k', 'v'].includes(t.name.split('.')[2])).every((t) => t.ok)).toBe(true);
  });

  test('a missing norm gain → layers.0.attention_norm', () => {
    const r = runBroken('mha-shared', { ...tsKernels, rmsnorm: (o, x, g, T, C, eps) => rmsnorm(o, x, new Float32Array(C).fill(1), T, C, eps) });
    expect(r.firstFailure).toBe('layers.0.attention_norm');
  });
});

test.each(['ts', 'wasm'])('every golden case passes conform --self on the %s kernels, every tensor', async (backend) => {
  const kernels = backend === 'ts' ? tsKernels : await createWasmKernels();
  for (const c of manifest.cases) {
    const r = conformSelf(manifest, c, kernels);
    expect(r.ok, `${c.name}: first failure ${r.firstFailure}`).toBe(true);
    expect(r.missing).toEqual([]); // every golden tensor: forward, loss, gradients, AdamW
    const names = r.compared.map((t) => t.name);
    expect(names).toContain('logits');
    expect(names).toContain('decode_logits');
    expect(names).toContain(`layers.${c.config.n_layers as number - 1}.out`);
    if (c.targets.length) expect(names).toContain('loss');
  }
});

test('a dump file written to disk round-trips through conform, found by case path', () => {
  const dir = mkdtempSync(join(tmpdir(), 'llama-ts-conform-'));
  const c = byName('gqa1-full-context');
  const path = join(dir, 'dump.safetensors');
  const dump = dumpForward(caseModel(manifest, c), tsKernels, c.tokens, { targets: c.targets });
  writeFileSync(path, writeSafetensors(dump));
  const found = findCase(join(manifest.root, 'cases', c.name));
  expect(found.goldenCase.name).toBe(c.name);
  const r = conformDumpFile(found.manifest, found.goldenCase, path);
  expect(r.ok).toBe(true);
  expect(readFileSync(path).length).toBeGreaterThan(1000);
});

test('compareTensor: bounds, outlier allowance, shapes and NaN', () => {
  const tol = { kind: 'k', pattern: '.', atol: 1e-3, rtol: 0 };
  const g = new Float64Array([1, 2, 3, 4]);
  expect(compareTensor('x', new Float64Array([1, 2, 3, 4.0005]), [4], g, [4], tol).ok).toBe(true);
  const bad = compareTensor('x', new Float64Array([1, 2, 3.1, 4]), [4], g, [4], tol);
  expect(bad.ok).toBe(false);
  expect(bad.worstIndex).toBe(2);
  expect(bad.maxAbsError).toBeCloseTo(0.1, 10);
  const withOutliers = { ...tol, outlier_fraction: 0.01, outlier_atol: 0.2 };
  expect(compareTensor('x', new Float64Array([1, 2, 3.1, 4]), [4], g, [4], withOutliers).ok).toBe(true); // one allowed, within 0.2
  expect(compareTensor('x', new Float64Array([1, 2.1, 3.1, 4]), [4], g, [4], withOutliers).ok).toBe(false); // two is too many
  expect(compareTensor('x', new Float64Array([1, 2, 3.5, 4]), [4], g, [4], withOutliers).ok).toBe(false); // beyond the cap
  expect(compareTensor('x', g, [2, 2], g, [4], tol).problem).toMatch(/shape/);
  expect(compareTensor('x', new Float64Array([1, NaN, 3, 4]), [4], g, [4], tol).problem).toMatch(/NaN at element 1/);
});
