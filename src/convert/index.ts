// Conversion between model formats: the library side of `llama-ts convert`.
export { convertModel, outputFormatOf, readSource, writeSource, OUTPUT_TYPES } from './convert.js';
export type { ConvertInput, ConvertOptions, ConvertResult, OutputFormat, OutputType } from './convert.js';
export { modelToGGUF, storedModelToGGUF, GGUF_FILE_TYPE, type GGUFExportOptions } from './to-gguf.js';
export { modelToHuggingFace, writeFolder, type HuggingFaceDType, type HuggingFaceExportOptions } from './to-huggingface.js';
export { quantizeModel, quantizeModelMixture, mixturePlan, storedType, namedMatrices } from './storage.js';
export { MIXTURE_NAMES, MIXTURE_BASE, MIXTURE_FILE_TYPE, mixtureType, useMoreBits, type MixtureName, type TensorRole } from './mixtures.js';
export { quantizeFile, QUANTIZE_TYPES, type QuantizeOptions, type QuantizeResult, type QuantizeType } from './quantize-file.js';
