// Recognizes a model file from its first bytes and loads it, all in memory (no Node APIs,
// so this also runs in a browser): "GGUF" → GGUF, "ak42" → llama2.c v1 (v2 is refused),
// anything else must be a llama2.c v0 checkpoint whose header is plausible and whose size
// is exactly what that header implies.
import type { LlamaModel } from '../../reference/weights.js';
import { ggufToModel } from './gguf-model.js';
import { GGUF_MAGIC, parseGGUF, type GGUFFile } from './gguf.js';
import { LLAMA2C_MAGIC, llama2cExpectedBytes, parseLlama2c, readLlama2cHeader } from './llama2c.js';

export type ModelFormat = 'gguf' | 'llama2c';

export interface LoadedModel {
  model: LlamaModel;
  format: ModelFormat;
  gguf?: GGUFFile; // the parsed GGUF (metadata, e.g. the tokenizer.ggml.* vocabulary)
}

// `bytes` may be only the file's head (at least its first 256 bytes, or all of a shorter
// file) when `fileSize` gives the whole file's size.
export function detectFormat(bytes: Uint8Array, fileName: string, fileSize = bytes.length): ModelFormat {
  const magic = bytes.length >= 4 ? new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true) : -1;
  if (magic === GGUF_MAGIC) return 'gguf';
  if (magic === LLAMA2C_MAGIC) return 'llama2c';
  const reason = llama2cV0Mismatch(bytes, fileName, fileSize);
  if (reason) {
    throw new Error(`${fileName}: not a GGUF or llama2.c file (no GGUF or ak42 magic, and ${reason})`);
  }
  return 'llama2c';
}

// Why the bytes are not a llama2.c v0 checkpoint, or '' if they are one.
function llama2cV0Mismatch(bytes: Uint8Array, fileName: string, fileSize: number): string {
  if (fileSize < 28) return `${fileSize} bytes is too short for a llama2.c header`;
  try {
    const header = readLlama2cHeader(bytes, fileName);
    const expected = llama2cExpectedBytes(header);
    if (expected !== BigInt(fileSize)) {
      return `as a llama2.c v0 header it implies ${expected} bytes, file has ${fileSize}`;
    }
    return '';
  } catch (e) {
    return `as a llama2.c v0 header: ${(e as Error).message}`;
  }
}

export function loadModelFromBytes(bytes: Uint8Array, fileName: string): LoadedModel {
  if (detectFormat(bytes, fileName) === 'gguf') {
    const gguf = parseGGUF(bytes, fileName);
    return { model: ggufToModel(gguf, fileName), format: 'gguf', gguf };
  }
  return { model: parseLlama2c(bytes, fileName), format: 'llama2c' };
}
