// Reading files whole or in part (Node), with errors that name the file and what was
// missing: the model loaders read through these.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

const READ_CHUNK = 1 << 30; // readSync moves at most 2 GiB - 1 bytes per call

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
