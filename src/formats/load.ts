// Loading a model file from disk (Node). The file is read once into one buffer allocated
// here, and the weights are typed-array views into it (see views.ts): Node has no mmap, so
// this is the nearest thing, one copy of the file in memory and no second one.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { loadModelFromBytes, type LoadedModel } from './detect.js';

export { detectFormat, loadModelFromBytes, type LoadedModel, type ModelFormat } from './detect.js';

const READ_CHUNK = 1 << 30; // readSync moves at most 2 GiB - 1 bytes per call

export function loadModel(path: string): LoadedModel {
  return loadModelFromBytes(readFileBytes(path), path);
}

// The whole file in a fresh Uint8Array [size] whose buffer holds nothing else, so views at
// file offsets that are multiples of 4 are aligned.
export function readFileBytes(path: string): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const bytes = new Uint8Array(size);
    let done = 0;
    while (done < size) {
      const n = readSync(fd, bytes, done, Math.min(READ_CHUNK, size - done), done);
      if (n === 0) throw new Error(`${path}: file shrank while reading: got ${done} of ${size} bytes`);
      done += n;
    }
    return bytes;
  } finally {
    closeSync(fd);
  }
}
