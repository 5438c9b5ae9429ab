// Loading a model from disk (Node): a file, read once into one buffer (src/io/read-file.ts),
// the weights typed-array views into it (see tensor-views.ts): Node has no mmap, so this is
// the nearest thing, one copy of the file in memory and no second one; or a Hugging Face folder.
// (The WASM backend reads only the header this way and each tensor straight into WASM
// memory instead: load-header.ts, src/backends/wasm/direct-load.ts.)
import { statSync } from 'node:fs';
import { readFileBytes } from '../io/read-file.js';
import type { LlamaModel } from '../../reference/weights.js';
import { loadModelFromBytes, type LoadedModel } from './load-bytes.js';
import { readHuggingFaceFolder, type HuggingFaceCheckpoint } from './huggingface-folder.js';

export { detectFormat, loadModelFromBytes, type LoadedModel, type ModelFormat } from './load-bytes.js';

export function loadModel(path: string): LoadedModel {
  return loadModelFromBytes(readFileBytes(path), path);
}

// What a model path may name, as every command's --model (and convert's and quantize's
// input) takes it: a GGUF or llama2.c file, or a Hugging Face folder. A path that is neither
// is an error naming it, the same for every command.
export function modelPathKind(path: string): 'file' | 'folder' {
  let isFolder: boolean;
  try {
    isFolder = statSync(path).isDirectory();
  } catch {
    throw new Error(`${path}: no such model file or folder`);
  }
  return isFolder ? 'folder' : 'file';
}

// A whole model from any model path, all in JavaScript memory: a file's bytes with its GGUF
// metadata, or a Hugging Face checkpoint (which says why a folder is not one).
export function readModelPath(path: string): { model: LlamaModel; gguf?: LoadedModel['gguf']; huggingFace?: HuggingFaceCheckpoint } {
  if (modelPathKind(path) === 'folder') {
    const huggingFace = readHuggingFaceFolder(path);
    return { model: huggingFace.model, huggingFace };
  }
  const loaded = loadModel(path);
  return { model: loaded.model, gguf: loaded.gguf };
}
