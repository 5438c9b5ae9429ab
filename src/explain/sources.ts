/// <reference path="./raw.d.ts" />
// The code behind each view: the function in reference/ (or the sampler) that computed it,
// cut from the file's text as it was built, so what a reader sees is what ran.
import attentionTs from '../../reference/attention.ts?raw';
import matmulTs from '../../reference/matmul.ts?raw';
import modelTs from '../../reference/model.ts?raw';
import rmsnormTs from '../../reference/rmsnorm.ts?raw';
import ropeTs from '../../reference/rope.ts?raw';
import swigluTs from '../../reference/swiglu.ts?raw';
import samplerTs from '../generate/sampler.ts?raw';
import lensTs from './lens.ts?raw';

const FILES: Record<string, string> = {
  'reference/attention.ts': attentionTs,
  'reference/matmul.ts': matmulTs,
  'reference/model.ts': modelTs,
  'reference/rmsnorm.ts': rmsnormTs,
  'reference/rope.ts': ropeTs,
  'reference/swiglu.ts': swigluTs,
  'src/generate/sampler.ts': samplerTs,
  'src/explain/lens.ts': lensTs,
};

export interface SourceRef {
  file: string;
  fn: string;
}

export type ViewName = 'distribution' | 'attention' | 'lens' | 'rmsnorm' | 'rope' | 'swiglu' | 'residual';

// Which functions computed each view, in the order they ran.
export const VIEW_SOURCES: Record<ViewName, SourceRef[]> = {
  distribution: [{ file: 'reference/model.ts', fn: 'forward' }, { file: 'src/generate/sampler.ts', fn: 'truncate' }],
  attention: [{ file: 'reference/attention.ts', fn: 'attentionWeights' }, { file: 'reference/attention.ts', fn: 'softmax' }],
  lens: [{ file: 'src/explain/lens.ts', fn: 'logitLens' }, { file: 'reference/rmsnorm.ts', fn: 'rmsnorm' }, { file: 'reference/matmul.ts', fn: 'matmul' }],
  rmsnorm: [{ file: 'reference/rmsnorm.ts', fn: 'rmsnorm' }],
  rope: [{ file: 'reference/rope.ts', fn: 'ropeFrequencies' }, { file: 'reference/rope.ts', fn: 'rope' }],
  swiglu: [{ file: 'reference/swiglu.ts', fn: 'silu' }, { file: 'reference/swiglu.ts', fn: 'swiglu' }],
  residual: [{ file: 'reference/model.ts', fn: 'forward' }],
};

// The text of `export function fn` in file, with the comment lines just above it, through
// its closing brace at the start of a line.
export function functionSource(file: string, fn: string): string {
  const text = FILES[file];
  if (text === undefined) throw new Error(`no source bundled for ${file}`);
  const lines = text.split('\n');
  const start = lines.findIndex((l) => new RegExp(`^export (async )?function\\*? ?${fn}\\b`).test(l));
  if (start < 0) throw new Error(`${file}: no exported function ${fn}`);
  let first = start;
  while (first > 0 && lines[first - 1].startsWith('//')) first--;
  let end = start;
  while (end < lines.length && lines[end] !== '}') end++;
  return lines.slice(first, end + 1).join('\n');
}
