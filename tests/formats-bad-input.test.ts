// Corrupt, truncated and hostile model files: each must give a plain Error that names the
// file (and the field or offset), quickly, never a RangeError/TypeError, a hang or a huge
// allocation.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BinaryWriter } from '../src/formats/binary-writer.js';
import { ggufFromModel } from '../src/formats/gguf-model.js';
import { GGUF_MAGIC, parseGGUF, writeGGUF, type GGUFWriteTensor } from '../src/formats/gguf.js';
import { LLAMA2C_MAGIC, parseLlama2c, writeLlama2c } from '../src/formats/llama2c.js';
import { loadModelFromBytes } from '../src/formats/load-file.js';
import { randomModel, tinyConfig } from './formats-helpers.js';

// Runs `f`, which must throw a plain Error whose message contains `name` (and matches `re`)
// within `ms` milliseconds. Returns the message.
function failsCleanly(f: () => unknown, name: string, re?: RegExp, ms = 250): string {
  const t0 = performance.now();
  let error: unknown;
  try {
    f();
  } catch (e) {
    error = e;
  }
  const elapsed = performance.now() - t0;
  expect(error, 'expected an error').toBeInstanceOf(Error);
  const e = error as Error;
  expect(e.constructor, `${e.constructor.name}: ${e.message}`).toBe(Error);
  expect(e.message).toContain(name);
  if (re) expect(e.message).toMatch(re);
  expect(elapsed).toBeLessThan(ms);
  return e.message;
}

// Either loads or fails cleanly: what byte flips are allowed to do.
function loadsOrFailsCleanly(bytes: Uint8Array, name: string): void {
  const t0 = performance.now();
  try {
    loadModelFromBytes(bytes, name);
  } catch (e) {
    expect((e as Error).constructor, String(e)).toBe(Error);
    expect((e as Error).message).toContain(name);
  }
  expect(performance.now() - t0).toBeLessThan(500);
}

// A raw GGUF v3 header + whatever `body` writes, then `slack` zero bytes.
function rawGGUF(nTensors: bigint, nKv: bigint, body: (w: BinaryWriter) => void = () => {}, slack = 1000): Uint8Array {
  const w = new BinaryWriter();
  w.u32(GGUF_MAGIC);
  w.u32(3);
  w.u64(nTensors);
  w.u64(nKv);
  body(w);
  w.bytes(new Uint8Array(slack));
  return w.finish();
}

const smallModel = randomModel(tinyConfig({ sharedClassifier: false }), 42);
const smallFiles: [string, Uint8Array][] = [
  ['small.gguf', ggufFromModel(smallModel, [['tokenizer.ggml.tokens', ['a', 'b', 'c'], 'array:string']])],
  ['small-v0.bin', writeLlama2c(smallModel, 0)],
  ['small-v1.bin', writeLlama2c(smallModel, 1)],
];

describe('not a model file', () => {
  it('wrong magic, empty and tiny files', () => {
    const text = new TextEncoder().encode('hello, this is certainly not a model file at all\n'.repeat(4));
    failsCleanly(() => loadModelFromBytes(text, 'notes.txt'), 'notes.txt', /not a GGUF or llama2\.c file/);
    failsCleanly(() => loadModelFromBytes(new Uint8Array(0), 'empty.bin'), 'empty.bin', /not a GGUF or llama2\.c file/);
    failsCleanly(() => loadModelFromBytes(new Uint8Array([0x47, 0x47]), 'two.bin'), 'two.bin', /not a GGUF/);
    failsCleanly(() => parseGGUF(text, 'notes.txt'), 'notes.txt', /not a GGUF file: magic is 0x6c6c6568/);
  });

  it('a plausible llama2.c v0 header with the wrong file size says what it expected', () => {
    const v0 = smallFiles[1][1];
    const longer = new Uint8Array(v0.length + 4);
    longer.set(v0);
    failsCleanly(() => loadModelFromBytes(longer, 'long.bin'), 'long.bin', new RegExp(`implies ${v0.length} bytes, file has ${v0.length + 4}`));
    failsCleanly(() => parseLlama2c(longer, 'long.bin'), 'long.bin', new RegExp(`implies ${v0.length} bytes, file has ${v0.length + 4}`));
  });

  it('GGUF versions other than 2 and 3', () => {
    const bytes = smallFiles[0][1].slice();
    const view = new DataView(bytes.buffer);
    view.setUint32(4, 1, true);
    failsCleanly(() => loadModelFromBytes(bytes, 'v1.gguf'), 'v1.gguf', /GGUF version 1 is not supported/);
    view.setUint32(4, 7, true);
    failsCleanly(() => parseGGUF(bytes, 'v7.gguf'), 'v7.gguf', /unsupported GGUF version 7/);
    view.setUint32(4, 3, false);
    failsCleanly(() => parseGGUF(bytes, 'be.gguf'), 'be.gguf', /big-endian/);
  });
});

describe('hostile GGUF counts and lengths fail fast without allocating', () => {
  const huge = [4_000_000_000n, 2n ** 63n, 2n ** 64n - 1n];
  it('tensor count and kv count', () => {
    for (const n of huge) {
      failsCleanly(() => parseGGUF(rawGGUF(n, 0n), 't.gguf'), 't.gguf', new RegExp(`tensor count \\(n_tensors\\) ${n} is impossible`));
      failsCleanly(() => parseGGUF(rawGGUF(0n, n), 'kv.gguf'), 'kv.gguf', new RegExp(`kv count \\(n_kv\\) ${n} is impossible`));
    }
  });

  it('key and string value lengths', () => {
    for (const n of huge) {
      failsCleanly(() => parseGGUF(rawGGUF(0n, 1n, (w) => w.u64(n)), 'key.gguf'), 'key.gguf', /metadata key #0.*string length/);
      const value = rawGGUF(0n, 1n, (w) => { w.string('general.name'); w.u32(8); w.u64(n); });
      failsCleanly(() => parseGGUF(value, 'str.gguf'), 'str.gguf', /metadata "general\.name" \(string\): string length/);
    }
  });

  it('array lengths, for fixed-size and string elements', () => {
    for (const n of huge) {
      const u32s = rawGGUF(0n, 1n, (w) => { w.string('a'); w.u32(9); w.u32(4); w.u64(n); });
      failsCleanly(() => parseGGUF(u32s, 'arr.gguf'), 'arr.gguf', new RegExp(`metadata "a" array length ${n} is impossible`));
      const strings = rawGGUF(0n, 1n, (w) => { w.string('tokenizer.ggml.tokens'); w.u32(9); w.u32(8); w.u64(n); });
      failsCleanly(() => parseGGUF(strings, 'strs.gguf'), 'strs.gguf', /"tokenizer\.ggml\.tokens" array length .* is impossible/);
    }
    // 200 strings need at least 1600 bytes; only 1000 remain.
    const short = rawGGUF(0n, 1n, (w) => { w.string('s'); w.u32(9); w.u32(8); w.u64(200n); });
    failsCleanly(() => parseGGUF(short, 's.gguf'), 's.gguf', /array length 200 is impossible: needs at least 1600 bytes/);
  });

  it('tensor dims, n_dims, type and offset', () => {
    const info = (nDims: number, dims: bigint[], type: number, offset: bigint) => (w: BinaryWriter) => {
      w.string('t');
      w.u32(nDims);
      for (const d of dims) w.u64(d);
      w.u32(type);
      w.u64(offset);
    };
    const parse = (body: (w: BinaryWriter) => void) => () => parseGGUF(rawGGUF(1n, 0n, body), 'tensor.gguf');
    failsCleanly(parse(info(5, [1n, 1n, 1n, 1n, 1n], 0, 0n)), 'tensor.gguf', /n_dims 5, at most 4/);
    failsCleanly(parse(info(2, [2n ** 63n, 0n], 0, 0n)), 'tensor.gguf', /dims\[0\] = 9223372036854775808 is too large/);
    failsCleanly(parse(info(2, [2n ** 40n, 2n ** 40n], 0, 0n)), 'tensor.gguf', /tensor "t".*runs past the end of the file/);
    failsCleanly(parse(info(1, [4n], 99, 0n)), 'tensor.gguf', /unknown ggml type 99/);
    failsCleanly(parse(info(1, [33n], 8, 0n)), 'tensor.gguf', /Q8_0 rows need a multiple of 32/);
    failsCleanly(parse(info(1, [4n], 0, 2n ** 63n)), 'tensor.gguf', /runs past the end/);
    failsCleanly(parse(info(1, [4n], 0, 8n)), 'tensor.gguf', /offset 8 is not a multiple of the alignment 32/);
  });

  it('a tensor running past the end of the file', () => {
    const ok = writeGGUF({ metadata: [], tensors: [{ name: 'w', dims: [4, 4], type: 0, data: new Uint8Array(64) }] });
    failsCleanly(() => parseGGUF(ok.subarray(0, ok.length - 1), 'cut.gguf'), 'cut.gguf', /tensor "w" \(F32 \[4, 4\]\).*runs past the end of the file/);
  });

  it('malformed metadata: duplicates, unknown types, bad bools, deep nesting, bad alignment', () => {
    const kv = (key: string, type: number, value: (w: BinaryWriter) => void) => (w: BinaryWriter) => { w.string(key); w.u32(type); value(w); };
    const two = (a: (w: BinaryWriter) => void, b: (w: BinaryWriter) => void) => (w: BinaryWriter) => { a(w); b(w); };
    failsCleanly(() => parseGGUF(rawGGUF(0n, 2n, two(kv('k', 4, (w) => w.u32(1)), kv('k', 4, (w) => w.u32(2)))), 'dup.gguf'), 'dup.gguf', /duplicate metadata key "k"/);
    failsCleanly(() => parseGGUF(rawGGUF(0n, 1n, kv('k', 13, () => {})), 'type.gguf'), 'type.gguf', /"k": unknown value type 13/);
    failsCleanly(() => parseGGUF(rawGGUF(0n, 1n, kv('b', 7, (w) => w.u8(2))), 'bool.gguf'), 'bool.gguf', /bool must be 0 or 1, got 2/);
    const nest = kv('n', 9, (w) => { for (let i = 0; i < 100; i++) { w.u32(9); w.u64(1n); } });
    failsCleanly(() => parseGGUF(rawGGUF(0n, 1n, nest), 'deep.gguf'), 'deep.gguf', /nested deeper than/);
    failsCleanly(() => parseGGUF(rawGGUF(0n, 1n, kv('general.alignment', 4, (w) => w.u32(48))), 'al.gguf'), 'al.gguf', /power of two, got 48/);
    failsCleanly(() => parseGGUF(rawGGUF(0n, 1n, kv('general.alignment', 4, (w) => w.u32(0))), 'al.gguf'), 'al.gguf', /power of two, got 0/);
    failsCleanly(() => parseGGUF(rawGGUF(0n, 1n, kv('general.alignment', 5, (w) => w.i32(32))), 'al.gguf'), 'al.gguf', /must be a uint32, found i32/);
    // Two tensor records named "x".
    const w = new BinaryWriter();
    w.u32(GGUF_MAGIC); w.u32(3); w.u64(2n); w.u64(0n);
    for (let i = 0; i < 2; i++) { w.string('x'); w.u32(1); w.u64(1n); w.u32(0); w.u64(0n); }
    w.bytes(new Uint8Array(64));
    failsCleanly(() => parseGGUF(w.finish(), 'dupt.gguf'), 'dupt.gguf', /duplicate tensor name "x"/);
  });
});

describe('GGUF files that parse but are not a usable LLaMA', () => {
  const entries = (model = smallModel) => {
    const file = parseGGUF(ggufFromModel(model), 'x');
    const metadata = Object.keys(file.metadata).map((k) => [k, file.metadata[k], file.types[k]] as [string, never, never]);
    const tensors = file.tensors.map((t): GGUFWriteTensor => ({ name: t.name, dims: t.dims, type: t.type, data: file.bytes.subarray(t.offset, t.offset + t.byteLength) }));
    return { metadata, tensors };
  };
  const load = (f: { metadata: [string, never, never][]; tensors: GGUFWriteTensor[] }, name: string) => () => loadModelFromBytes(writeGGUF(f), name);

  it('wrong or missing architecture, missing metadata', () => {
    const a = entries();
    a.metadata = a.metadata.filter(([k]) => k !== 'general.architecture');
    failsCleanly(load(a, 'noarch.gguf'), 'noarch.gguf', /no general\.architecture/);
    const b = entries();
    b.metadata = b.metadata.map(([k, v, t]) => (k === 'general.architecture' ? [k, 'gpt2' as never, t] : [k, v, t]));
    failsCleanly(load(b, 'gpt2.gguf'), 'gpt2.gguf', /general\.architecture is "gpt2"/);
    const c = entries();
    c.metadata = c.metadata.filter(([k]) => k !== 'llama.block_count');
    failsCleanly(load(c, 'nolayers.gguf'), 'nolayers.gguf', /no llama\.block_count/);
    const d = entries();
    d.metadata = d.metadata.map(([k, v, t]) => (k === 'llama.embedding_length' ? [k, 'wide' as never, 'string' as never] : [k, v, t]));
    failsCleanly(load(d, 'str.gguf'), 'str.gguf', /llama\.embedding_length must be an integer/);
    const e = entries();
    e.metadata = e.metadata.map(([k, v, t]) => (k === 'llama.attention.head_count_kv' ? [k, 0 as never, t] : [k, v, t]));
    failsCleanly(load(e, 'kv0.gguf'), 'kv0.gguf', /nKvHeads must be a positive integer, got 0/);
  });

  it('missing, misshapen or unsupported tensors are named', () => {
    const a = entries();
    a.tensors = a.tensors.filter((t) => t.name !== 'blk.1.ffn_up.weight');
    failsCleanly(load(a, 'missing.gguf'), 'missing.gguf', /no tensor blk\.1\.ffn_up\.weight/);
    const b = entries();
    b.tensors = b.tensors.map((t) => (t.name === 'blk.0.attn_k.weight' ? { ...t, dims: [t.dims[1], t.dims[0]] } : t));
    failsCleanly(load(b, 'shape.gguf'), 'shape.gguf', /tensor blk\.0\.attn_k\.weight \(F32 \[4, 8\]\) should have dims \[8, 4\]/);
    // Q8_1 (ggml type 9) parses, but cannot be used as a weight here: the error names the
    // tensor, the type, and every type llama-ts reads.
    const config = tinyConfig({ dim: 32, nHeads: 4, nKvHeads: 2, hiddenDim: 32 });
    const c = entries(randomModel(config, 1));
    c.tensors = c.tensors.map((t) => (t.name === 'blk.0.attn_q.weight' ? { ...t, type: 9, data: new Uint8Array(32 * 36) } : t));
    const bytes = writeGGUF(c);
    expect(parseGGUF(bytes, 'q81.gguf').tensors.find((t) => t.name === 'blk.0.attn_q.weight')?.type).toBe(9);
    failsCleanly(
      () => loadModelFromBytes(bytes, 'q81.gguf'), 'q81.gguf',
      /tensor blk\.0\.attn_q\.weight has type 9 \(Q8_1\), which llama-ts cannot read; it reads F32 \(0\), F16 \(1\), Q4_0 \(2\), Q4_1 \(3\), .*Q4_K \(12\), .*IQ4_NL \(20\)/,
    );
  });
});

describe('bad llama2.c headers', () => {
  const header = (values: number[], v1 = false) => {
    const w = new BinaryWriter();
    if (v1) { w.u32(LLAMA2C_MAGIC); w.i32(1); }
    for (const v of values) w.i32(v);
    w.bytes(new Uint8Array(300));
    return w.finish();
  };
  it('fields are checked and named', () => {
    failsCleanly(() => parseLlama2c(header([8, 12, 2, 2, 0, 16, 4]), 'kv0.bin'), 'kv0.bin', /nKvHeads must be a positive integer, got 0/);
    failsCleanly(() => parseLlama2c(header([8, 12, 2, 3, 3, 16, 4]), 'heads.bin'), 'heads.bin', /dim 8 is not divisible by nHeads 3/);
    failsCleanly(() => parseLlama2c(header([8, 12, 2, 2, 2, 16, 4, 7], true), 'flag.bin'), 'flag.bin', /shared_classifier must be 0 or 1, got 7/);
    failsCleanly(() => parseLlama2c(header([8, 12, 2, 2, 2, -16, 4, 1], true), 'neg.bin'), 'neg.bin', /vocab_size must be positive in version 1/);
  });
  it('a header claiming 2^31 layers fails fast on the size check', () => {
    failsCleanly(() => parseLlama2c(header([4096, 11008, 2 ** 31 - 1, 32, 32, 32000, 4096]), 'big.bin'), 'big.bin', /implies \d+ bytes, file has 328/);
    failsCleanly(() => loadModelFromBytes(header([4096, 11008, 2 ** 31 - 1, 32, 32, 32000, 4096]), 'big.bin'), 'big.bin', /not a GGUF or llama2\.c file/);
  });
  it('version 2 (Q8_0) and unknown versions are refused', () => {
    const v2 = header([0, 2, 8, 12, 2, 2, 2, 16, 4]);
    new DataView(v2.buffer).setUint32(0, LLAMA2C_MAGIC, true);
    failsCleanly(() => loadModelFromBytes(v2, 'q80.bin'), 'q80.bin', /version 2 \(Q8_0\) checkpoints are not supported/);
    new DataView(v2.buffer).setInt32(4, 9, true);
    failsCleanly(() => loadModelFromBytes(v2, 'v9.bin'), 'v9.bin', /unknown llama2\.c version 9/);
  });
});

describe('truncation and byte flips', () => {
  for (const [name, bytes] of smallFiles) {
    it(`${name} (${bytes.length} bytes) truncated at every offset fails cleanly`, () => {
      expect(loadModelFromBytes(bytes, name).model.config.dim).toBe(8);
      for (let n = 0; n < bytes.length; n++) failsCleanly(() => loadModelFromBytes(bytes.subarray(0, n), name), name);
    });

    it(`${name}: random truncations and byte flips load or fail cleanly (fast-check)`, () => {
      const flips = fc.array(fc.tuple(fc.nat(bytes.length - 1), fc.integer({ min: 1, max: 255 })), { maxLength: 6 });
      // Flips confined to the header (GGUF: metadata and tensor infos), where they matter most.
      const headerEnd = name.endsWith('.gguf') ? parseGGUF(bytes, name).dataOffset : 256;
      const headerFlips = fc.array(fc.tuple(fc.nat(headerEnd - 1), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 });
      const mutate = (length: number, changes: [number, number][]) => {
        const copy = bytes.slice(0, length);
        for (const [at, x] of changes) if (at < copy.length) copy[at] ^= x;
        return copy;
      };
      fc.assert(fc.property(fc.integer({ min: 0, max: bytes.length }), flips, (len, changes) => loadsOrFailsCleanly(mutate(len, changes), name)), { numRuns: 300, seed: 1 });
      fc.assert(fc.property(headerFlips, (changes) => loadsOrFailsCleanly(mutate(bytes.length, changes), name)), { numRuns: 500, seed: 2 });
    });
  }
});
