// `conform --self --backend webgpu`: every golden case through the WebGPU backend, every
// forward tensor traced on the GPU (golden/ names), the logits of the whole prompt and of
// one-token decoding with the KV cache on the GPU, against golden/'s float64 values and
// tolerances; then the CLI on one machine-readable run.
import { describe, expect, test } from 'vitest';
import { conformSelfAsync } from '../src/conform/conform.js';
import { readManifest } from '../src/conform/golden.js';
import { closeKernels, createKernels } from '../src/llama.js';

const manifest = readManifest();

describe('conform --self on the WebGPU kernels', () => {
  for (const c of manifest.cases) {
    test(`${c.name}: every golden tensor within tolerance`, async () => {
      const r = await conformSelfAsync(manifest, c, (m) => createKernels('webgpu', m), closeKernels);
      const bad = r.compared.filter((t) => !t.ok).map((t) => `${t.name}: ${t.problem ?? t.usage}`);
      expect(bad).toEqual([]);
      expect(r.ok).toBe(true);
      expect(r.missing).toEqual([]);
      const names = r.compared.map((t) => t.name);
      const L = c.config.n_layers as number;
      for (const name of ['embedding', 'layers.0.q', 'layers.0.attn', `layers.${L - 1}.out`, 'norm', 'logits', 'decode_logits']) {
        expect(names).toContain(name);
      }
      // the forward tensors really were compared, not only present: each used part of its tolerance
      const logits = r.compared.find((t) => t.name === 'logits')!;
      expect(logits.usage).toBeGreaterThan(0);
      expect(logits.usage).toBeLessThanOrEqual(1);
    }, 300_000);
  }
});
