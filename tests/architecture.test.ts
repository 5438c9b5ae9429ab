// The shape of the code, checked: data flows one way (file -> weights -> kernels -> logits ->
// sampler -> text), so every folder may import only the folders below it in LAYERS, no file
// imports itself back in a circle, and reference/ imports nothing from src/.
//
// Imports are read from the source text (`import ... from './x.js'`, `export ... from`, and
// `import('./x.js')`); `import type` lines are left out, since they vanish at run time and a
// type may be shared both ways (e.g. an options interface).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

// Lowest first: a folder (or a file named on its own) may import its own files and those of
// the layers listed before it.
const LAYERS = [
  'reference', // the paper: imports nothing outside itself
  'src/io', // files written atomically, files read whole
  'src/formats', // model files -> weights
  'src/tokenizer', // vocabularies (their readers and writers)
  'src/quant', // block maths
  'src/backends/wasm', // kernels
  'src/backends/webgpu', // kernels on the GPU
  'src/chat', // chat templates: a conversation -> prompt text -> token ids
  'src/generate', // logits -> sampler -> text; chat turns on a kept KV cache
  'src/convert', // model-level conversion and quantization policy
  'src/eval', // perplexity, KL divergence, multiple choice: over a model and its kernels
  'src/train', // its validation loss is the evaluator's
  'src/explain', // one step explained: views over the reference trace and the sampler (page and `explain`)

  'src/conform',
  'src', // the library's front door: loadLlama and loadEvaluator (llama.ts), loadLlamaFromBytes (browser.ts)
  'src/index.ts', // the package's exports: everything above
  'src/cli', // parses arguments and calls the library
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

// The run-time imports of one file, as absolute .ts paths.
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const m of text.matchAll(/^(?:import|export)\s(?!type\b)[^;]*?from\s+['"](\.[^'"]+)['"]/gm)) found.push(m[1]);
  for (const m of text.matchAll(/import\(\s*['"](\.[^'"]+)['"]\s*\)/g)) found.push(m[1]);
  // `?raw` (a file's text, src/explain/sources.ts) still depends on that file
  return found.map((spec) => resolve(dirname(file), spec.replace(/\?raw$/, '').replace(/\.js$/, '.ts')));
}

const files = [...sourceFiles(join(ROOT, 'src')), ...sourceFiles(join(ROOT, 'reference'))];
const graph = new Map(files.map((f) => [f, importsOf(f)]));
const folderOf = (file: string): string => dirname(relative(ROOT, file)).split('\\').join('/');
// A file's layer: itself where LAYERS names it, else its folder's.
const layerOf = (file: string): number => {
  const own = LAYERS.indexOf(relative(ROOT, file).split('\\').join('/'));
  return own >= 0 ? own : LAYERS.indexOf(folderOf(file));
};

describe('architecture', () => {
  test('every source folder has a place in the layers', () => {
    const unknown = [...new Set(files.filter((f) => layerOf(f) < 0).map(folderOf))];
    expect(unknown).toEqual([]);
  });

  test('every import resolves to a source file', () => {
    const missing = [...graph].flatMap(([f, deps]) => deps.filter((d) => !graph.has(d)).map((d) => `${relative(ROOT, f)} -> ${relative(ROOT, d)}`));
    expect(missing).toEqual([]);
  });

  test('folders import only the layers below them (data flows one way)', () => {
    const upward: string[] = [];
    for (const [file, deps] of graph) {
      const from = layerOf(file);
      for (const dep of deps) {
        if (layerOf(dep) > from) upward.push(`${relative(ROOT, file)} -> ${relative(ROOT, dep)}`);
      }
    }
    expect(upward).toEqual([]);
  });

  test('no file imports itself back through a circle', () => {
    const state = new Map<string, 'open' | 'done'>();
    const path: string[] = [];
    const cycles: string[] = [];
    const visit = (file: string): void => {
      state.set(file, 'open');
      path.push(file);
      for (const dep of graph.get(file) ?? []) {
        if (state.get(dep) === 'open') cycles.push([...path.slice(path.indexOf(dep)), dep].map((f) => relative(ROOT, f)).join(' -> '));
        else if (!state.has(dep)) visit(dep);
      }
      path.pop();
      state.set(file, 'done');
    };
    for (const file of graph.keys()) if (!state.has(file)) visit(file);
    expect(cycles).toEqual([]);
  });

  test('the check sees real imports (a known edge is found)', () => {
    const llama = graph.get(join(ROOT, 'src', 'llama.ts')) ?? [];
    expect(llama.some((d) => folderOf(d) === 'src/formats')).toBe(true);
  });
});
