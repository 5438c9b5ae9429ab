// Data flows one way (README): reference/ imports nothing from src/, and no folder of src/
// imports, directly or through others, a folder that imports it back (e.g. tokenizer/ reads
// GGUF metadata through formats/, so formats/ must never import tokenizer/).
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

// reference, src (its top-level files), src/tokenizer, src/backends/wasm, ...
function folderOf(path: string): string {
  const parts = relative(root, path).split('/');
  if (parts[0] !== 'src' || parts.length === 2) return parts[0];
  return parts.slice(0, parts[1] === 'backends' ? 3 : 2).join('/');
}

// folder → the folders its files import from (static and type-only imports and re-exports)
function folderGraph(): Map<string, Map<string, string>> {
  const graph = new Map<string, Map<string, string>>(); // folder → (imported folder → one file that does)
  for (const file of [...sources(join(root, 'reference')), ...sources(join(root, 'src'))]) {
    for (const m of readFileSync(file, 'utf8').matchAll(/^\s*(?:import|export)\b[^'"]*?\bfrom\s+['"](\.[^'"]+)['"]/gm)) {
      const [from, to] = [folderOf(file), folderOf(resolve(dirname(file), m[1]))];
      if (from === to) continue;
      if (!graph.has(from)) graph.set(from, new Map());
      graph.get(from)!.set(to, relative(root, file));
    }
  }
  return graph;
}

describe('imports between folders', () => {
  const graph = folderGraph();

  test('the graph is what the files say (it sees the known edges)', () => {
    expect(graph.get('src/tokenizer')?.has('src/formats')).toBe(true);
    expect(graph.get('src/convert')?.has('src/quant')).toBe(true);
  });

  test('reference/ imports nothing from src/', () => {
    expect([...(graph.get('reference')?.keys() ?? [])]).toEqual([]);
  });

  test('no folder reaches itself again through its imports', () => {
    const cycles: string[] = [];
    for (const start of graph.keys()) {
      // depth-first from `start`, keeping the path, until a way back to `start` is found
      const seen = new Set<string>();
      const walk = (folder: string, path: string[]): boolean => {
        for (const [next, file] of graph.get(folder) ?? []) {
          if (next === start) {
            cycles.push([...path, `${next} (${file})`].join(' -> '));
            return true;
          }
          if (!seen.has(next)) {
            seen.add(next);
            if (walk(next, [...path, `${next} (${file})`])) return true;
          }
        }
        return false;
      };
      walk(start, [start]);
    }
    expect(cycles).toEqual([]);
  });
});
