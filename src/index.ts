// llama-ts library API.
export { loadLlama, kernelsFor, type Llama, type LoadOptions, type BackendName } from './llama.js';
export { generate, generateChunks, type GenerateOptions, type GenerationChunk, type Generator, type TextCodec } from './generate/generate.js';
export { Sampler, argmax, type SamplerOptions } from './generate/sampler.js';
export { Rng } from './generate/rng.js';
export { loadModel, loadModelFromBytes } from './formats/load.js';
export { parseGGUF, writeGGUF, type GGUFFile, type GGUFValue, type GGUFTensorInfo } from './formats/gguf.js';
export { Tokenizer, loadTokenizer, tokenizerFromBytes } from './tokenizer/tokenizer.js';
export type { Vocabulary } from './tokenizer/vocabulary.js';
export { forward, createKVCache, type KVCache, type Trace, type ForwardOptions } from '../reference/model.js';
export { tsKernels } from '../reference/ts-kernels.js';
export type { Kernels } from '../reference/kernels.js';
export type { LlamaConfig } from '../reference/config.js';
export type { LlamaModel, LlamaWeights, LayerWeights } from '../reference/weights.js';
export type { WeightTensor, DType } from '../reference/tensor.js';
