// The library's front door: load a model file (and its tokenizer) and get something that
// generates text. Everything here is glue over formats/, tokenizer/, generate/ and the kernels.
import type { Kernels } from '../reference/kernels.js';
import { tsKernels } from '../reference/ts-kernels.js';
import { loadModel } from './formats/load.js';
import { generate, generateChunks, type GenerateOptions, type GenerationChunk, type Generator } from './generate/generate.js';
import { vocabularyFromGGUF } from './tokenizer/gguf-vocabulary.js';
import { loadTokenizer, Tokenizer } from './tokenizer/tokenizer.js';

export type BackendName = 'ts';

export interface LoadOptions {
  model: string; // a GGUF or llama2.c file
  tokenizer?: string; // .model, tokenizer.bin or GGUF; default: the vocabulary inside a GGUF model
  backend?: BackendName;
}

export interface Llama extends Generator {
  tokenizer: Tokenizer;
  generate(prompt: string, options?: GenerateOptions): AsyncGenerator<string>;
  generateChunks(prompt: string, options?: GenerateOptions): AsyncGenerator<GenerationChunk>;
}

export function kernelsFor(backend: BackendName = 'ts'): Kernels {
  if (backend === 'ts') return tsKernels;
  throw new Error(`unknown backend "${backend}" (known: ts)`);
}

export async function loadLlama(options: LoadOptions): Promise<Llama> {
  const loaded = loadModel(options.model);
  let tokenizer: Tokenizer;
  if (options.tokenizer) {
    tokenizer = loadTokenizer(options.tokenizer);
  } else if (loaded.gguf && 'tokenizer.ggml.tokens' in loaded.gguf.metadata) {
    tokenizer = new Tokenizer(vocabularyFromGGUF(loaded.gguf.metadata, options.model));
  } else {
    throw new Error(`${options.model}: this model file holds no vocabulary; give a tokenizer file (--tokenizer)`);
  }
  if (tokenizer.vocabSize !== loaded.model.config.vocabSize) {
    throw new Error(
      `${options.tokenizer ?? options.model}: the tokenizer has ${tokenizer.vocabSize} tokens but the model's vocabulary has ${loaded.model.config.vocabSize}`,
    );
  }
  const g: Generator = { model: loaded.model, tokenizer, kernels: kernelsFor(options.backend) };
  return {
    ...g,
    tokenizer,
    generate: (prompt, opts) => generate(g, prompt, opts),
    generateChunks: (prompt, opts) => generateChunks(g, prompt, opts),
  };
}
