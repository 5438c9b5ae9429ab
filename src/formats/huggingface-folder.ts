// Reading a Hugging Face LLaMA folder from disk (Node): config.json, the safetensors file
// or shards, and the bytes of the tokenizer files beside them, unparsed (which one is the
// vocabulary, and reading it, is src/tokenizer/model-vocabulary.ts's).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { LlamaModel } from '../../reference/weights.js';
import { collectTensors, modelFromHuggingFaceTensors, parseHuggingFaceConfig, type HuggingFaceConfig } from './huggingface.js';
import { readFileBytes } from '../io/read-file.js';

export interface HuggingFaceCheckpoint {
  model: LlamaModel;
  hfConfig: HuggingFaceConfig;
  files: string[]; // the weight files read
  dir: string;
  tokenizerModel?: Uint8Array; // the bytes of tokenizer.model (SentencePiece), if present
  tokenizerJson?: Uint8Array; // the bytes of tokenizer.json, if present
  tokenizerConfig?: Uint8Array; // the bytes of tokenizer_config.json, if present
}

export function isHuggingFaceFolder(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory() && existsSync(join(path, 'config.json'));
}

export function readHuggingFaceFolder(dir: string): HuggingFaceCheckpoint {
  const configPath = join(dir, 'config.json');
  if (!existsSync(configPath)) throw new Error(`${dir}: not a Hugging Face model folder (no config.json)`);
  const hfConfig = parseHuggingFaceConfig(readFileSync(configPath, 'utf8'), configPath);
  const files = weightFiles(dir);
  const tensors = collectTensors(files.map((name) => ({ name, bytes: readFileBytes(name) })));
  const model = modelFromHuggingFaceTensors(hfConfig, tensors, configPath);
  return { model, hfConfig, files, dir, ...readTokenizerFiles(dir) };
}

// model.safetensors, or the shards that model.safetensors.index.json names.
function weightFiles(dir: string): string[] {
  const single = join(dir, 'model.safetensors');
  const indexPath = join(dir, 'model.safetensors.index.json');
  if (existsSync(indexPath)) return shardFiles(dir, indexPath);
  if (existsSync(single)) return [single];
  const torch = ['pytorch_model.bin', 'pytorch_model.bin.index.json'].find((f) => existsSync(join(dir, f)));
  if (torch) throw new Error(`${join(dir, torch)}: PyTorch pickle checkpoints are not supported; convert to safetensors`);
  throw new Error(`${dir}: no model.safetensors and no model.safetensors.index.json`);
}

// The distinct files of the index's weight_map, each checked to exist. File names must be
// plain names inside the folder (an index cannot point elsewhere on disk).
function shardFiles(dir: string, indexPath: string): string[] {
  let index: unknown;
  try {
    index = JSON.parse(readFileSync(indexPath, 'utf8'));
  } catch (e) {
    throw new Error(`${indexPath}: not valid JSON (${(e as Error).message})`);
  }
  const map = (index as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) throw new Error(`${indexPath}: missing field weight_map`);
  const names = new Set<string>();
  for (const [tensor, file] of Object.entries(map)) {
    if (typeof file !== 'string' || file === '' || /[/\\]/.test(file) || file === '.' || file === '..') {
      throw new Error(`${indexPath}: weight_map[${JSON.stringify(tensor)}] is not a file name in this folder: ${JSON.stringify(file)}`);
    }
    names.add(file);
  }
  if (names.size === 0) throw new Error(`${indexPath}: weight_map is empty`);
  return [...names].sort().map((file) => {
    const path = join(dir, file);
    if (!existsSync(path)) throw new Error(`${indexPath}: shard ${file} (named in weight_map) is missing from ${dir}`);
    return path;
  });
}

function readTokenizerFiles(dir: string): Pick<HuggingFaceCheckpoint, 'tokenizerModel' | 'tokenizerJson' | 'tokenizerConfig'> {
  const read = (name: string): Uint8Array | undefined => (existsSync(join(dir, name)) ? readFileBytes(join(dir, name)) : undefined);
  return { tokenizerModel: read('tokenizer.model'), tokenizerJson: read('tokenizer.json'), tokenizerConfig: read('tokenizer_config.json') };
}
