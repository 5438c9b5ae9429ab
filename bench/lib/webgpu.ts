// WebGPU rows of bench:e2e: llama-ts's WebGPU backend on the same random models (stories15M
// and stories110M shapes) in F16 and Q4_0, decode and prompt tokens/s, in the same run as the
// WASM and llama.cpp rows. In Node the GPU comes from Dawn (the `webgpu` package); on a machine
// without a GPU that is SwiftShader, the CPU Vulkan, whose numbers say only that it works.
import type { DType } from '../../reference/tensor.js';
import type { LlamaModel } from '../../reference/weights.js';
import { createWebGpuKernels } from '../../src/backends/webgpu/kernels.js';
import { quantizeModel } from '../../src/convert/storage.js';

export const WEBGPU_DTYPES: readonly DType[] = ['f16', 'q4_0'];

export interface WebGpuRow {
  shape: string;
  dtype: DType;
  phase: 'decode' | 'prompt';
  tokens: number; // decode steps done, or prompt tokens
  tokensPerSecond: number; // median over the repetitions
  samples: number[];
  adapter: string;
  shaderF16: boolean;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

// Decode: greedy steps after the decode prompt, argmax on the GPU (as generation does), until
// `decodeTokens` steps or `decodeSeconds`; prompt: `prompt` tokens in one forward call on a
// fresh cache (32-token command buffers), the last position's logits read back.
export async function benchWebGpu(
  model: LlamaModel, shape: string, dtype: DType, prompt: number[], decodePromptTokens: number,
  o: { reps: number; decodeTokens: number; decodeSeconds: number },
): Promise<WebGpuRow[]> {
  const stored = quantizeModel(model, dtype);
  const kernels = await createWebGpuKernels(stored);
  const config = stored.config;
  try {
    const decode = async (steps: number, seconds: number) => {
      const cache = kernels.createKVCache(config, decodePromptTokens + steps + 1);
      let token = await kernels.forwardArgmax(cache, prompt.slice(0, decodePromptTokens), 0);
      const start = performance.now();
      let done = 0;
      while (done < steps && performance.now() - start < seconds * 1000) {
        token = await kernels.forwardArgmax(cache, [token], decodePromptTokens + done);
        done++;
      }
      return { done, rate: done / ((performance.now() - start) / 1000) };
    };
    const promptRate = async () => {
      const start = performance.now();
      await kernels.forwardAsync(stored, kernels.createKVCache(config, prompt.length), prompt, 0);
      return prompt.length / ((performance.now() - start) / 1000);
    };
    await decode(2, o.decodeSeconds); // warm-up: pipelines compiled, buffers made
    const decodes: number[] = [];
    const prompts: number[] = [];
    let steps = 0;
    for (let rep = 0; rep < o.reps; rep++) {
      const d = await decode(o.decodeTokens, o.decodeSeconds);
      decodes.push(d.rate);
      steps = d.done;
      prompts.push(await promptRate());
    }
    const base = { shape, dtype, adapter: kernels.adapterName, shaderF16: kernels.shaderF16 };
    const round = (x: number) => Math.round(x * 100) / 100;
    return [
      { ...base, phase: 'decode', tokens: steps, tokensPerSecond: round(median(decodes)), samples: decodes.map(round) },
      { ...base, phase: 'prompt', tokens: prompt.length, tokensPerSecond: round(median(prompts)), samples: prompts.map(round) },
    ];
  } finally {
    await kernels.close();
  }
}
