// The flags generate and chat share: which model and how it runs, how tokens are sampled,
// and the chat template. Each spec comes with the function that turns its values into the
// library's options.
import type { SimdChoice } from '../backends/wasm/module.js';
import { parseBuiltinTemplateName } from '../chat/builtin-templates.js';
import type { GenerateOptions } from '../generate/generate.js';
import { parseBackend, type LoadOptions } from '../llama.js';
import { intFlag, numberFlag, stringFlag, type OptionSpec, type Parsed } from './options.js';

export const MODEL_FLAGS: OptionSpec = {
  model: { type: 'string' },
  tokenizer: { type: 'string' },
  backend: { type: 'string' },
  context: { type: 'string' },
  threads: { type: 'string' },
  simd: { type: 'string' },
  'chat-template': { type: 'string' },
};

export const MODEL_HELP = `  --model FILE          GGUF, llama2.c checkpoint or Hugging Face folder (default: the embedded
                        model, a small LLaMA trained by llama-ts on the King James Bible)
  --tokenizer FILE      tokenizer (.model, tokenizer.bin, tokenizer.json or GGUF); default: the one
                        inside a GGUF model or beside a Hugging Face checkpoint
  --backend NAME        wasm (SIMD, default), ts (the readable reference) or webgpu (the GPU:
                        weights, KV cache and the forward pass on it; Node via the webgpu package)
  --context N           KV cache positions (default: the model's context, at most 4096)
  --threads N           wasm kernel threads (default: the number of CPUs)
  --simd BUILD          wasm kernels: relaxed (fused multiply-add), plain or auto (default:
                        relaxed where the runtime has it; also $LLAMA_TS_SIMD)
  --chat-template NAME  chat: the built-in llama-2, llama-3, chatml or zephyr template instead of
                        the model's own (GGUF tokenizer.chat_template, tokenizer_config.json)
`;

export function loadOptions(v: Parsed['values']): LoadOptions {
  const template = stringFlag(v, 'chat-template');
  return {
    model: stringFlag(v, 'model'), // default: the embedded model
    tokenizer: stringFlag(v, 'tokenizer'),
    contextLength: intFlag(v, 'context'),
    backend: parseBackend(stringFlag(v, 'backend')),
    threads: intFlag(v, 'threads'),
    simd: stringFlag(v, 'simd') as SimdChoice | undefined,
    chatTemplate: template === undefined ? undefined : parseBuiltinTemplateName(template),
  };
}

export const SAMPLING_FLAGS: OptionSpec = {
  'max-tokens': { type: 'string' },
  temperature: { type: 'string' },
  'top-k': { type: 'string' },
  'top-p': { type: 'string' },
  'min-p': { type: 'string' },
  'repeat-penalty': { type: 'string' },
  stop: { type: 'string', multiple: true },
  seed: { type: 'string' },
};

export const SAMPLING_HELP = `  --max-tokens N        new tokens at most (default 256)
  --temperature T       0 = greedy (default 1)
  --top-k K             sample from the K most likely tokens (default 0 = off)
  --top-p P             nucleus sampling (default 0.9; 1 = off)
  --min-p P             drop tokens below P × the top probability (default 0 = off)
  --repeat-penalty R    penalize recently seen tokens (default 1 = off)
  --stop TEXT           stop before this text (may be repeated)
  --seed S              random seed, for reproducible sampling (default: random)
`;

export function samplingOptions(v: Parsed['values']): Omit<GenerateOptions, 'bos' | 'signal'> {
  return {
    maxTokens: intFlag(v, 'max-tokens'),
    temperature: numberFlag(v, 'temperature'),
    topK: intFlag(v, 'top-k'),
    topP: numberFlag(v, 'top-p'), // default: generate's DEFAULT_TOP_P
    minP: numberFlag(v, 'min-p'),
    repetitionPenalty: numberFlag(v, 'repeat-penalty'),
    stop: (v.stop as unknown as string[] | undefined) ?? [],
    seed: intFlag(v, 'seed'),
  };
}
