// Loading a model file from disk (Node). The file is read once into one buffer allocated
// here, and the weights are typed-array views into it (see views.ts): Node has no mmap, so
// this is the nearest thing, one copy of the file in memory and no second one.
// (The WASM backend reads only the header this way and each tensor straight into WASM
// memory instead: file-layout.ts, src/backends/wasm/direct-load.ts.)
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import type { LlamaModel } from '../../reference/weights.js';
import { loadModelFromBytes, type LoadedModel } from './detect.js';
import { readHuggingFaceFolder, type HuggingFaceCheckpoint } from './huggingface-folder.js';

export { detectFormat, loadModelFromBytes, type LoadedModel, type ModelFormat } from './detect.js';

const READ_CHUNK = 1 << 30; // readSync moves at most 2 GiB - 1 bytes per call

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

// The whole file in a fresh Uint8Array [size] whose buffer holds nothing else, so views at
// file offsets that are multiples of 4 are aligned.
export function readFileBytes(path: string): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const bytes = new Uint8Array(fstatSync(fd).size);
    readAt(fd, bytes, 0, path);
    return bytes;
  } finally {
    closeSync(fd);
  }
}

// Fills `target` with the file's bytes [position, position + target.length), in reads of
// at most 1 GiB; a file that ends first is an error naming what was missing.
export function readAt(fd: number, target: Uint8Array, position: number, path: string): void {
  let done = 0;
  while (done < target.length) {
    const n = readSync(fd, target, done, Math.min(READ_CHUNK, target.length - done), position + done);
    if (n === 0) {
      throw new Error(`${path}: file shrank while reading: bytes ${position}..${position + target.length} wanted, it ends at ${position + done}`);
    }
    done += n;
  }
}
