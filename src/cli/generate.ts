import type { Kernels } from '../../reference/kernels.js';
import type { WasmKernels } from '../backends/wasm/kernels.js';
import type { SimdChoice } from '../backends/wasm/module.js';
import { loadLlama, parseBackend } from '../llama.js';
import { intFlag, numberFlag, parseCommand, stringFlag } from './options.js';

const help = `usage: llama-ts generate [--model FILE] [options]

Prints the prompt followed by the generated text on stdout, tokens per second on stderr.

  --model FILE          GGUF, llama2.c checkpoint or Hugging Face folder (default: the embedded
                        model, a small LLaMA trained by llama-ts on the King James Bible)
  --tokenizer FILE      tokenizer (.model, tokenizer.bin, tokenizer.json or GGUF); default: the one
                        inside a GGUF model or beside a Hugging Face checkpoint
  --prompt TEXT         text to continue (default: empty, start from BOS)
  --max-tokens N        new tokens at most (default 256)
  --temperature T       0 = greedy (default 1)
  --top-k K             sample from the K most likely tokens (default 0 = off)
  --top-p P             nucleus sampling (default 0.9; 1 = off)
  --min-p P             drop tokens below P × the top probability (default 0 = off)
  --repeat-penalty R    penalize recently seen tokens (default 1 = off)
  --stop TEXT           stop before this text (may be repeated)
  --seed S              random seed, for reproducible sampling (default: random)
  --backend NAME        wasm (SIMD, default), ts (the readable reference) or webgpu (the GPU:
                        weights, KV cache and the forward pass on it; Node via the webgpu package)
  --context N           KV cache positions (default: the model's context, at most 4096)
  --threads N           wasm kernel threads (default: the number of CPUs)
  --simd BUILD          wasm kernels: relaxed (fused multiply-add), plain or auto (default:
                        relaxed where the runtime has it; also $LLAMA_TS_SIMD)
`;

export async function generateCommand(argv: string[]): Promise<number> {
  const args = parseCommand(argv, {
    model: { type: 'string' },
    tokenizer: { type: 'string' },
    prompt: { type: 'string' },
    'max-tokens': { type: 'string' },
    temperature: { type: 'string' },
    'top-k': { type: 'string' },
    'top-p': { type: 'string' },
    'min-p': { type: 'string' },
    'repeat-penalty': { type: 'string' },
    stop: { type: 'string', multiple: true },
    seed: { type: 'string' },
    backend: { type: 'string' },
    context: { type: 'string' },
    threads: { type: 'string' },
    simd: { type: 'string' },
  }, help);
  if (!args) return 0;
  const v = args.values;
  const model = stringFlag(v, 'model'); // default: the embedded model
  const llama = await loadLlama({ model, contextLength: intFlag(v, 'context'), tokenizer: stringFlag(v, 'tokenizer'), backend: parseBackend(stringFlag(v, 'backend')), threads: intFlag(v, 'threads'), simd: stringFlag(v, 'simd') as SimdChoice | undefined });
  for (const note of (llama.kernels as Partial<WasmKernels>).notes ?? []) process.stderr.write(`note: ${note}\n`);
  const prompt = stringFlag(v, 'prompt') ?? '';

  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  process.stdout.write(prompt);
  const start = performance.now();
  let tokens = 0;
  for await (const chunk of llama.generateChunks(prompt, {
    maxTokens: intFlag(v, 'max-tokens'),
    temperature: numberFlag(v, 'temperature'),
    topK: intFlag(v, 'top-k'),
    topP: numberFlag(v, 'top-p'), // default: generate's DEFAULT_TOP_P
    minP: numberFlag(v, 'min-p'),
    repetitionPenalty: numberFlag(v, 'repeat-penalty'),
    stop: (v.stop as unknown as string[] | undefined) ?? [],
    seed: intFlag(v, 'seed'),
    signal: abort.signal,
  })) {
    if (!chunk.done) tokens++;
    process.stdout.write(chunk.text);
  }
  process.stdout.write('\n');
  const seconds = (performance.now() - start) / 1000;
  process.stderr.write(`${tokens} tokens in ${seconds.toFixed(2)} s: ${(tokens / seconds).toFixed(1)} tok/s (${describeKernels(llama.kernels)})\n`);
  await llama.close();
  return 0;
}

// 'wasm, relaxed SIMD, 2 threads' or 'ts': what ran, for the stats line
function describeKernels(kernels: Kernels): string {
  const wasm = kernels as Partial<WasmKernels>;
  const adapter = (kernels as { adapterName?: string }).adapterName;
  if (adapter !== undefined) return `${kernels.name}, ${adapter}`;
  if (wasm.simd === undefined) return kernels.name;
  return `${kernels.name}, ${wasm.simd === 'relaxed' ? 'relaxed SIMD' : 'SIMD'}, ${wasm.threads} thread${wasm.threads === 1 ? '' : 's'}`;
}
