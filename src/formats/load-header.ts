// A model file's header, read from disk without its tensor data (Node): the config, the
// GGUF metadata, and where each weight lies, checked by the same parsers and with the same
// errors as the in-memory path (load-bytes.ts), against the real file size. A loader then
// reads each tensor wherever it should live (src/backends/wasm/direct-load.ts: straight
// into WASM memory), so the weights are never held twice.
//
// GGUF: the metadata and tensor infos are read in a growing head (1 MiB, doubled) until
// they parse. llama2.c: the header is at most 256 bytes; the layout follows from it.
import { closeSync, fstatSync, openSync } from 'node:fs';
import { detectFormat, type ModelFormat } from './load-bytes.js';
import { ggufLayout } from './gguf-model.js';
import { readGGUFHeader, type GGUFHeader } from './gguf.js';
import { BinaryReader } from './binary-reader.js';
import type { ModelLayout } from './tensor-layout.js';
import { checkLlama2cSize, llama2cLayout, readLlama2cHeader } from './llama2c.js';
import { readAt } from '../io/read-file.js';

const FIRST_HEAD_BYTES = 1 << 20; // a 32000-token vocabulary's metadata is about 0.7 MiB
const COMPARE_CHUNK = 16 << 20; // bytes compared at a time when checking a shared classifier

export interface ModelFileLayout {
  path: string;
  format: ModelFormat;
  size: number; // bytes on disk when the header was read
  layout: ModelLayout; // every spec checked to lie in [0, size)
  gguf?: GGUFHeader; // GGUF metadata (e.g. the tokenizer.ggml.* vocabulary)
}

export function readModelFileLayout(path: string): ModelFileLayout {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const head = readHead(fd, Math.min(size, FIRST_HEAD_BYTES), path);
    const format = detectFormat(head, path, size);
    if (format === 'llama2c') {
      const header = readLlama2cHeader(head, path);
      checkLlama2cSize(header, size, path);
      return { path, format, size, layout: llama2cLayout(header) };
    }
    const gguf = readGGUFHeaderOf(fd, head, size, path);
    const layout = ggufLayout(
      gguf, path,
      (a, b) => sameFileBytes(fd, a.offset, b.offset, a.byteLength, path),
      (t) => readTensor(fd, t.offset, t.byteLength, path), // the small rope_freqs.weight
    );
    return { path, format, size, layout, gguf };
  } finally {
    closeSync(fd);
  }
}

// The file's first `n` bytes.
function readHead(fd: number, n: number, path: string): Uint8Array {
  const head = new Uint8Array(n);
  readAt(fd, head, 0, path);
  return head;
}

function readTensor(fd: number, offset: number, byteLength: number, path: string): Uint8Array {
  const bytes = new Uint8Array(byteLength);
  readAt(fd, bytes, offset, path);
  return bytes;
}

// Parses the header from a head of the file, reading a longer head while it runs past it.
// Each head is at most the file, and at least twice the last, so this ends.
function readGGUFHeaderOf(fd: number, head: Uint8Array, size: number, path: string): GGUFHeader {
  for (;;) {
    try {
      return readGGUFHeader(new HeaderReader(head, path, size));
    } catch (error) {
      if (!(error instanceof NeedMoreBytes)) throw error;
      head = readHead(fd, Math.min(size, Math.max(2 * head.length, error.end)), path);
    }
  }
}

// Are the file's bytes [a, a + n) and [b, b + n) equal? Compared a chunk at a time, so that
// memory stays small, stopping at the first difference (usually in the first chunk).
function sameFileBytes(fd: number, a: number, b: number, n: number, path: string): boolean {
  const x = new Uint8Array(Math.min(n, COMPARE_CHUNK));
  const y = new Uint8Array(x.length);
  for (let done = 0; done < n; done += x.length) {
    const len = Math.min(x.length, n - done);
    readAt(fd, x.subarray(0, len), a + done, path);
    readAt(fd, y.subarray(0, len), b + done, path);
    if (Buffer.compare(x.subarray(0, len), y.subarray(0, len)) !== 0) return false;
  }
  return true;
}

// A BinaryReader over the first bytes of a file that is longer: every bound is checked
// against the whole file's length (so the errors are the ones the in-memory parse gives),
// and a read that fits the file but not the bytes held so far throws NeedMoreBytes,
// telling the caller to read a longer head and parse again (load-header.ts).
//
//   head        Uint8Array [held]   the file's bytes [0, held), held <= fileLength
//   fileLength  number              the file's size on disk
export class NeedMoreBytes extends Error {
  constructor(readonly end: number) {
    super(`the header continues past the ${end} bytes read so far`);
  }
}

export class HeaderReader extends BinaryReader {
  constructor(head: Uint8Array, fileName: string, readonly fileLength: number) {
    super(head, fileName);
    if (!(head.length <= fileLength)) throw new Error(`${fileName}: ${head.length} header bytes held, file has ${fileLength}`);
  }

  override get length(): number {
    return this.fileLength;
  }

  override get remaining(): number {
    return this.fileLength - this.offset;
  }

  override need(n: number | bigint, what: string): void {
    super.need(n, what); // within the file, else the usual error
    const end = this.offset + Number(n);
    if (end > this.bytes.length) throw new NeedMoreBytes(end);
  }
}
