// Conversion between model formats: the library side of `llama-ts convert`.
export { convertModel, outputFormatOf, readSource, readTokenizerFile, writeSource, OUTPUT_TYPES } from './convert.js';
export type { ConvertOptions, ConvertResult, ModelSource, OutputFormat, OutputType } from './convert.js';
export { modelToGGUF, GGUF_FILE_TYPE, type GGUFExportOptions } from './to-gguf.js';
export { modelToHuggingFace, writeFolder, type HuggingFaceDType, type HuggingFaceExportOptions } from './to-huggingface.js';
export { ggufTokenizerMetadata, llama2cTokenizerBytes, vocabularyNotes } from './tokenizer-metadata.js';
export { convertMatrices, namedMatrices } from './storage.js';
export { vocabularyToTokenizerJson, mergesOf } from './tokenizer-json.js';
