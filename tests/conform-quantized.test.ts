// conform --self on a Q4_K_M-stored model (src/conform/quantized.ts): the kernels run the
// model from its Q4_K/Q6_K blocks, the reference runs it dequantized to float32, and every
// forward tensor must be within the golden manifest's float32 tolerances. A kernel that
// misreads the blocks (here: the reference's own matmul reading Q4_K with two scale bits
// flipped) fails it, at the first matmul's output.
import { expect, test } from 'vitest';
import type { Kernels } from '../reference/kernels.js';
import { matmul } from '../reference/matmul.js';
import { tsKernels } from '../reference/ts-kernels.js';
import { createWasmKernels } from '../src/backends/wasm/kernels.js';
import { readManifest } from '../src/conform/golden.js';
import { conformQuantizedSelf } from '../src/conform/quantized.js';

const manifest = readManifest();

test.each(['ts', 'wasm'])('a Q4_K_M model passes conform --self\'s quantized check on the %s kernels', async (backend) => {
  // f32 activations, as `llama-ts conform` makes its kernels (src/cli/conform.ts)
  const kernels = backend === 'ts' ? tsKernels : await createWasmKernels({ activations: 'f32' });
  try {
    const r = conformQuantizedSelf(manifest, kernels);
    expect(r.case).toMatch(/^q4_k_m \(q4_k, q6_k blocks/);
    expect(r.ok, `first failure ${r.firstFailure}`).toBe(true);
    const names = r.compared.map((t) => t.name);
    expect(names).toContain('logits');
    expect(names).toContain('layers.1.out');
    const worst = Math.max(...r.compared.map((t) => t.usage));
    console.log(`${backend}: ${r.compared.length} tensors, worst at ${worst.toFixed(3)} of the float32 tolerance`);
    expect(worst).toBeLessThan(1);
  } finally {
    if ('close' in kernels) await (kernels as { close(): Promise<void> }).close();
  }
});

test('a kernel that misreads the Q4_K scale packing fails it', () => {
  const misreading: Kernels = {
    ...tsKernels,
    matmul(out, x, w, T) {
      if (w.dtype !== 'q4_k') return matmul(out, x, w, T);
      const bytes = (w.data as Uint8Array).slice();
      for (let o = 0; o < bytes.length; o += 144) bytes[o + 4] ^= 0xc0; // sub-block 4's scale, top bits
      matmul(out, x, { ...w, data: bytes }, T);
    },
  };
  const r = conformQuantizedSelf(manifest, misreading);
  expect(r.ok).toBe(false);
  expect(r.firstFailure).toBe('layers.0.q');
});
