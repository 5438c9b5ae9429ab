// Before the first step: a tokenizer (given, or trained with spm_train) and the corpus as a
// token file in the output folder, made once and reused while its sources are unchanged.
//
//   OUT/tokenizer.model   the tokenizer (a given one is copied, keeping its extension)
//   OUT/tokens.bin        the corpus tokens (data.ts's token file)
//   OUT/tokens.json       what tokens.bin was made from: sources (path, size, mtime) and the
//                         tokenizer's SHA-256, compared on the next run to reuse it
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { loadTokenizer } from '../tokenizer/load.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { writeFileAtomic, writeTextAtomic } from '../io/atomic-file.js';
import { readTokenFile, tokenFileBytes, tokenizeTexts, type TokenArray } from './data.js';
import { trainSentencePiece } from './spm.js';

export interface PrepareOptions {
  out: string; // output folder (exists)
  texts: string[]; // text files to train on
  tokens?: string; // a ready token file instead of texts
  tokenizer?: string; // tokenizer file; default: train one with spm_train
  vocab?: number; // pieces of a trained tokenizer
  log?: (line: string) => void;
}

export interface PreparedData {
  tokenizer: Tokenizer;
  tokenizerFile: string; // path of the tokenizer copy in `out`
  tokens: TokenArray;
  tokensFile: string;
}

interface SourceStamp {
  path: string;
  size: number;
  mtimeMs: number;
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

function stamps(texts: readonly string[]): SourceStamp[] {
  return texts.map((t) => {
    const path = resolve(t);
    if (!existsSync(path)) throw new Error(`${t}: no such text file`);
    const st = statSync(path);
    return { path, size: st.size, mtimeMs: st.mtimeMs };
  });
}

// The tokenizer in `out`: copied from `given`, or trained on the texts.
export function prepareTokenizer(o: PrepareOptions): { tokenizer: Tokenizer; tokenizerFile: string } {
  const log = o.log ?? (() => {});
  if (o.tokenizer) {
    const ext = extname(o.tokenizer) || '.model';
    const file = join(o.out, basename(o.tokenizer) === `tokenizer${ext}` ? basename(o.tokenizer) : `tokenizer${ext}`);
    const tokenizer = loadTokenizer(o.tokenizer); // throws, naming the file, on a bad one
    if (resolve(o.tokenizer) !== resolve(file)) copyFileSync(o.tokenizer, file);
    return { tokenizer, tokenizerFile: file };
  }
  if (o.texts.length === 0) throw new Error('training a tokenizer needs text files (or give --tokenizer FILE)');
  const file = join(o.out, 'tokenizer.model');
  const vocab = o.vocab ?? 512;
  log(`training a ${vocab}-piece SentencePiece BPE tokenizer with spm_train → ${file}`);
  trainSentencePiece({ inputs: o.texts.map((t) => resolve(t)), modelPath: file, vocabSize: vocab });
  const tokenizer = loadTokenizer(file);
  if (tokenizer.vocabSize !== vocab) log(`note: the text only supports ${tokenizer.vocabSize} pieces (asked for ${vocab}); the model uses ${tokenizer.vocabSize}`);
  return { tokenizer, tokenizerFile: file };
}

// The corpus tokens: a given token file, the cached OUT/tokens.bin, or freshly tokenized texts.
export function prepareTokens(o: PrepareOptions, tokenizer: Tokenizer, tokenizerFile: string): { tokens: TokenArray; tokensFile: string } {
  const log = o.log ?? (() => {});
  if (o.tokens) {
    const file = readTokenFile(o.tokens);
    if (file.vocabSize > tokenizer.vocabSize) throw new Error(`${o.tokens}: tokens are for a vocabulary of ${file.vocabSize}, the tokenizer has ${tokenizer.vocabSize}`);
    return { tokens: file.tokens, tokensFile: resolve(o.tokens) };
  }
  if (o.texts.length === 0) throw new Error('no training data: give text files or --tokens FILE');
  const tokensFile = join(o.out, 'tokens.bin');
  const stampFile = join(o.out, 'tokens.json');
  const wanted = JSON.stringify({ sources: stamps(o.texts), tokenizerSha256: sha256(readFileSync(tokenizerFile)) });
  if (existsSync(tokensFile) && existsSync(stampFile) && readFileSync(stampFile, 'utf8').trim() === wanted) {
    log(`reusing ${tokensFile}`);
    return { tokens: readTokenFile(tokensFile).tokens, tokensFile };
  }
  const start = performance.now();
  const tokens = tokenizeTexts(o.texts.map((t) => readFileSync(t, 'utf8')), tokenizer);
  writeFileAtomic(tokensFile, tokenFileBytes(tokens, tokenizer.vocabSize));
  writeTextAtomic(stampFile, wanted + '\n');
  log(`tokenized ${o.texts.length} file(s) into ${tokens.length} tokens in ${((performance.now() - start) / 1000).toFixed(1)} s → ${tokensFile}`);
  return { tokens, tokensFile };
}

export function prepareData(o: PrepareOptions): PreparedData {
  const { tokenizer, tokenizerFile } = prepareTokenizer(o);
  return { tokenizer, tokenizerFile, ...prepareTokens(o, tokenizer, tokenizerFile) };
}
