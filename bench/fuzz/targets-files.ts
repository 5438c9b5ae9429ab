// Targets that read files strangers make: model files, tokenizer files, safetensors, a
// Hugging Face folder and a golden dump for conform. Each input is a mutated seed file.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { chatTemplateFor } from '../../src/chat/model-template.js';
import { conformTensors, fromSafetensors } from '../../src/conform/conform.js';
import { findCase } from '../../src/conform/golden.js';
import { readHuggingFaceFolder } from '../../src/formats/huggingface-folder.js';
import { loadModelFromBytes } from '../../src/formats/load-bytes.js';
import { parseSafetensors, tensorToFloat64 } from '../../src/formats/safetensors.js';
import { anyTokenizerFromBytes, modelTokenizer, type AnyTokenizer } from '../../src/tokenizer/any-tokenizer.js';
import { applyBinary, applyJson, binaryEdits, jsonEdits, type BinaryEdit, type BinarySeed, type JsonEdit } from './mutate.js';
import * as seeds from './seeds.js';
import { bytesCodec, check, jsonCodec, pick, type Target } from './target.js';

interface BinaryRecipe { seed: number; edits: BinaryEdit[] }

// A target over mutated binary seeds; `seedList` is called once per worker.
function binaryTarget(name: string, weight: number, seedList: () => BinarySeed[], run: (bytes: Uint8Array, fileName: string) => void, fileName: string, extension: string): Target<BinaryRecipe, Uint8Array> {
  return {
    name, weight, names: [fileName], extension, ...bytesCodec,
    recipe: () => fc.record({ seed: fc.nat(1000), edits: binaryEdits(4) }),
    build: (r) => applyBinary(pick(seedList(), r.seed), r.edits),
    run: (bytes) => run(bytes, fileName),
  };
}

// What a loaded model must satisfy: its shapes agree with its config.
function checkModel(bytes: Uint8Array, fileName: string): void {
  const { model, gguf } = loadModelFromBytes(bytes, fileName);
  const c = model.config;
  for (const k of ['dim', 'hiddenDim', 'nLayers', 'nHeads', 'nKvHeads', 'vocabSize', 'maxSeqLen'] as const) check(Number.isSafeInteger(c[k]) && c[k] > 0, `config.${k} = ${c[k]}`);
  check(model.weights.layers.length === c.nLayers, 'layer count');
  check(model.weights.tokenEmbedding.rows === c.vocabSize && model.weights.tokenEmbedding.cols === c.dim, 'embedding shape');
  check(model.weights.norm.length === c.dim, 'norm length');
  if (!gguf) return;
  // The GGUF's own vocabulary and chat template, as loadLlamaFromBytes reads them.
  let tokenizer: AnyTokenizer;
  try {
    tokenizer = modelTokenizer({ name: fileName, gguf: gguf.metadata }, undefined, c.vocabSize, 'give a tokenizer');
  } catch (e) {
    if ((e as Error).message.includes('holds no vocabulary')) return;
    throw e;
  }
  checkTokenizer(tokenizer, fileName);
  chatTemplateFor({ name: fileName, gguf: gguf.metadata }, tokenizer)?.render([{ role: 'user', content: 'hi' }], true);
}

const PROBE = 'Once upon a time, \u00e9t\u00e9 \u{1F600} 12345 <s> \n\t';

// A loaded tokenizer encodes to ids inside its vocabulary, and decodes them back to a string.
export function checkTokenizer(t: AnyTokenizer, fileName: string, text = PROBE): void {
  const ids = t.encode(text, { bos: true });
  for (const id of ids) check(Number.isInteger(id) && id >= 0 && id < t.vocabSize, `${fileName}: id ${id} outside 0..${t.vocabSize - 1}`);
  check(typeof t.decode(ids) === 'string', 'decode gives a string');
  const stream = t.createStreamDecoder();
  for (const id of ids) check(typeof stream.push(id) === 'string', 'stream decode');
  stream.flush();
}

function tokenizerTarget(name: string, weight: number, seedList: () => BinarySeed[], fileName: string): Target<BinaryRecipe, Uint8Array> {
  return binaryTarget(name, weight, seedList, (bytes) => checkTokenizer(anyTokenizerFromBytes(bytes, fileName), fileName), fileName, fileName.split('.').pop() ?? 'bin');
}

// safetensors: the header edited as JSON, the length prefix and data as bytes.
interface SafetensorsRecipe { json: JsonEdit[]; edits: BinaryEdit[]; binary: boolean }
function safetensorsRecipe(): fc.Arbitrary<SafetensorsRecipe> {
  return fc.record({ json: jsonEdits(3), edits: binaryEdits(2), binary: fc.boolean() });
}
function buildSafetensors(seed: Uint8Array, r: SafetensorsRecipe): Uint8Array {
  const { header, data } = seeds.splitSafetensors(seed);
  const joined = seeds.joinSafetensors(applyJson(header, r.json), data);
  return r.binary ? applyBinary({ name: 'x', bytes: joined, fields: [{ at: 0, kind: 'u64', what: 'header length' }], strings: [] }, r.edits) : joined;
}

function checkSafetensors(bytes: Uint8Array, fileName: string): void {
  const file = parseSafetensors(bytes, fileName);
  for (const [name, t] of file.tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    check(tensorToFloat64(t).length === n, `${name}: ${n} values`);
  }
}

const oneToken = (() => {
  let found: ReturnType<typeof findCase> | undefined;
  return () => (found ??= findCase(seeds.repoPath('golden/cases/one-token')));
})();

// A Hugging Face folder: config.json and the weights, each mutated, optionally sharded with
// an index; written to a folder of this worker's own under /dev/shm and read as loadLlama does.
interface FolderRecipe { config: JsonEdit[]; weights: SafetensorsRecipe; index: JsonEdit[]; sharded: boolean; touchConfig: boolean; touchIndex: boolean; touchWeights: boolean }
interface Folder { files: Record<string, string> } // name -> base64 (JSON-able for regression files)

let folderDir: string | undefined;
const FOLDER_ROOT = process.platform === 'linux' ? '/dev/shm' : '/tmp';

// Removes the folders this process's workers made (they share its pid; a terminated worker
// cannot clean up after itself). Called by the runner and the slice test when they end.
export function removeFuzzFolders(): void {
  for (const name of readdirSync(FOLDER_ROOT)) if (name.startsWith(`llama-ts-fuzz-${process.pid}-`)) rmSync(join(FOLDER_ROOT, name), { recursive: true, force: true });
}
function freshFolder(): string {
  if (!folderDir) {
    const dir = join(FOLDER_ROOT, `llama-ts-fuzz-${process.pid}-${Math.random().toString(36).slice(2)}`);
    folderDir = dir;
  }
  rmSync(folderDir, { recursive: true, force: true });
  mkdirSync(folderDir, { recursive: true });
  return folderDir;
}

export const fileTargets: Target<never, never>[] = [
  binaryTarget('gguf', 30, seeds.ggufSeeds, checkModel, 'model.gguf', 'gguf'),
  binaryTarget('gguf-real', 0.5, () => [seeds.realGGUFSeed()], checkModel, 'stories260K.gguf', 'gguf'),
  binaryTarget('llama2c', 15, seeds.llama2cSeeds, checkModel, 'model.bin', 'bin'),
  binaryTarget('llama2c-real', 0.3, () => [seeds.realLlama2cSeed()], checkModel, 'stories260K.bin', 'bin'),
  tokenizerTarget('spm-model', 10, () => [seeds.spmSeed()], 'tokenizer.model'),
  tokenizerTarget('llama2c-tokenizer', 10, () => [seeds.llama2cTokenizerSeed()], 'tokenizer.bin'),
  tokenizerTarget('gguf-vocab', 8, seeds.ggufVocabSeeds, 'vocab.gguf'),
  {
    name: 'tokenizer-json', weight: 8, names: ['tokenizer.json'], extension: 'json', ...bytesCodec,
    recipe: () => fc.record({ seed: fc.nat(10), edits: jsonEdits(4) }),
    build: (r: { seed: number; edits: JsonEdit[] }) => new TextEncoder().encode(applyJson(pick(seeds.tokenizerJsonSeeds(), r.seed), r.edits)),
    run: (bytes: Uint8Array) => checkTokenizer(anyTokenizerFromBytes(bytes, 'tokenizer.json'), 'tokenizer.json'),
  },
  {
    name: 'safetensors', weight: 10, names: ['weights.safetensors'], extension: 'safetensors', ...bytesCodec,
    recipe: safetensorsRecipe,
    build: (r: SafetensorsRecipe) => buildSafetensors(seeds.huggingFaceSeed().weights, r),
    run: (bytes: Uint8Array) => checkSafetensors(bytes, 'weights.safetensors'),
  },
  {
    // A golden dump handed to conform: the case's own expected tensors (a passing dump), mutated.
    name: 'conform-dump', weight: 0.5, names: ['dump.safetensors', 'golden'], extension: 'safetensors', ...bytesCodec,
    recipe: safetensorsRecipe,
    build: (r: SafetensorsRecipe) => buildSafetensors(expectedBytes(), r),
    run: (bytes: Uint8Array) => {
      const { manifest, goldenCase: c } = oneToken();
      const report = conformTensors(manifest, c, fromSafetensors(parseSafetensors(bytes, 'dump.safetensors').tensors));
      check(typeof report.ok === 'boolean' && report.compared.length > 0, 'a report');
    },
  },
  {
    name: 'hf-folder', weight: 0.5, names: ['llama-ts-fuzz-'], extension: 'json', ...jsonCodec,
    recipe: () => fc.record({ config: jsonEdits(2), weights: safetensorsRecipe(), index: jsonEdits(2), sharded: fc.boolean(), touchConfig: fc.boolean(), touchIndex: fc.boolean(), touchWeights: fc.boolean() }),
    build: (r: FolderRecipe): Folder => {
      const seed = seeds.huggingFaceSeed();
      const b64 = (b: Uint8Array | string) => Buffer.from(b).toString('base64');
      const files: Record<string, string> = { 'config.json': b64(r.touchConfig ? applyJson(seed.config, r.config) : JSON.stringify(seed.config)) };
      const weights = r.touchWeights ? buildSafetensors(seed.weights, r.weights) : seed.weights; // each file mutated or not, so some folders load
      if (!r.sharded) files['model.safetensors'] = b64(weights);
      else {
        const names = Object.keys(seeds.splitSafetensors(seed.weights).header as object).filter((k) => k !== '__metadata__');
        const index = { metadata: {}, weight_map: Object.fromEntries(names.map((n) => [n, 'model-00001-of-00001.safetensors'])) };
        files['model.safetensors.index.json'] = b64(r.touchIndex ? applyJson(index, r.index) : JSON.stringify(index));
        files['model-00001-of-00001.safetensors'] = b64(weights);
      }
      return { files };
    },
    run: (folder: Folder) => {
      const dir = freshFolder();
      for (const [name, data] of Object.entries(folder.files)) writeFileSync(join(dir, name), Buffer.from(data, 'base64'));
      const hf = readHuggingFaceFolder(dir);
      check(hf.model.weights.layers.length === hf.model.config.nLayers, 'layers');
    },
    size: (folder: Folder) => Object.values(folder.files).reduce((n, s) => n + s.length, 0),
  },
] as never;

let expected: Uint8Array | undefined;
function expectedBytes(): Uint8Array {
  if (!expected) {
    const { manifest, goldenCase: c } = oneToken();
    expected = new Uint8Array(readFileSync(join(manifest.root, c.expected)));
  }
  return expected;
}
