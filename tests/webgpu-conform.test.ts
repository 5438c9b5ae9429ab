// `conform --self --backend webgpu`: golden cases through the WebGPU backend against golden/'s
// float64 values and tolerances. Every case but stories260K (see below): every forward tensor traced on the GPU (golden/
// names), the logits of the whole prompt, the loss, and the logits of one-token decoding with
// the KV cache on the GPU. Training on the GPU (src/backends/webgpu/train.ts) on two cases,
// to keep the time moderate on SwiftShader: one-token (every part: gradients and ten AdamW
// steps) and gqa-half-ignore (gradients: grouped heads, ignored targets, a separate classifier).
import { describe, expect, test } from 'vitest';
import { conformSelfAsync, type ConformReport } from '../src/conform/conform.js';
import { readManifest } from '../src/conform/golden.js';
import type { Part } from '../src/conform/parts.js';
import { closeKernels, createKernels } from '../src/llama.js';

const manifest = readManifest();
const run = (name: string, only?: Part[]) =>
  conformSelfAsync(manifest, manifest.cases.find((c) => c.name === name)!, (m) => createKernels('webgpu', m), closeKernels, only);

function expectConforms(r: ConformReport, names: string[]): void {
  expect(r.compared.filter((t) => !t.ok).map((t) => `${t.name}: ${t.problem ?? t.usage}`)).toEqual([]);
  expect(r.ok).toBe(true);
  expect(r.missing).toEqual([]);
  const compared = r.compared.map((t) => t.name);
  for (const name of names) expect(compared).toContain(name);
  for (const t of r.compared.filter((x) => x.kind !== 'index')) {
    expect(t.usage, t.name).toBeLessThanOrEqual(1); // a share of its tolerance, so really compared
    expect(Number.isFinite(t.maxAbsError), t.name).toBe(true);
  }
}

describe('conform --self on the WebGPU kernels', () => {
  // stories260K (5 layers, 32 one-token decodes: about a minute on SwiftShader) is left to
  // `llama-ts conform --self --backend webgpu`; its greedy story on the GPU is in webgpu-forward.
  // long-positions (4128 tokens, as many one-token decodes) would take far longer on SwiftShader.
  for (const c of manifest.cases.filter((x) => x.name !== 'stories260K' && x.name !== 'long-positions')) {
    const L = c.config.n_layers as number;
    test(`${c.name}: forward tensors, logits, loss and decode_logits within tolerance`, async () => {
      const r = await run(c.name, ['forward', 'loss', 'decode']);
      expectConforms(r, ['embedding', 'layers.0.q', 'layers.0.attn', `layers.${L - 1}.out`, 'norm', 'logits', 'decode_logits', 'loss']);
      expect(r.checked).toEqual(['forward', 'loss', 'decode']);
    }, 300_000);
  }

  test('one-token: gradients and ten AdamW steps computed on the GPU, every golden tensor', async () => {
    const r = await run('one-token');
    expectConforms(r, ['grad.tok_embeddings.weight', 'grad.layers.0.attention.wq.weight', 'adamw.1.layers.0.feed_forward.w2.weight',
      'adamw.10.m.norm.weight', 'adamw.10.v.tok_embeddings.weight', 'adamw.losses', 'adamw.grad_norms']);
    expect(r.notChecked).toEqual([]);
  }, 300_000);

  test('gqa-half-ignore: every gradient computed on the GPU', async () => {
    const r = await run('gqa-half-ignore', ['forward', 'loss', 'grad']);
    expectConforms(r, ['grad.tok_embeddings.weight', 'grad.output.weight', 'grad.layers.1.attention.wk.weight', 'grad.norm.weight']);
  }, 300_000);
});
