// conform on llama-ts itself, and on deliberately broken ports (conform-bugs.ts): it must name
// the tensor where each classic porting bug first shows. Dumps that are incomplete or misnamed:
// conform-dumps.test.ts.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { tsKernels } from '../reference/ts-kernels.js';
import { createWasmKernels } from '../src/backends/wasm/kernels.js';
import { compareTensor } from '../src/conform/compare.js';
import { conformDumpFile, conformSelf, conformTensors, fromWritten, keepCaseRows } from '../src/conform/conform.js';
import { dumpForward } from '../src/conform/dump.js';
import { caseModel, findCase, readManifest, type GoldenCase } from '../src/conform/golden.js';
import { writeSafetensors } from '../src/formats/safetensors.js';
import { BUGS, INVISIBLE_DECODE_OFFSET, type PortBug } from './conform-bugs.js';

const manifest = readManifest();
const byName = (name: string) => manifest.cases.find((c) => c.name === name)!;

// A broken port's dump of one case: forward, loss, decode and gradients (AdamW is not run).
function runBroken(bug: PortBug, c: GoldenCase) {
  const model = bug.model ? bug.model(caseModel(manifest, c)) : caseModel(manifest, c);
  const gradients = c.tensors.some((n) => n.startsWith('grad.')); // not on the quantized and long cases
  const dump = dumpForward(model, bug.kernels ? bug.kernels(c) : tsKernels, c.tokens, { targets: c.targets, gradients });
  return conformTensors(manifest, c, fromWritten(keepCaseRows(c, dump)), { only: ['forward', 'loss', 'decode', 'grad'] }); // no AdamW steps
}

describe('conform names the tensor each classic bug breaks, on every case that can see it', () => {
  for (const bug of BUGS) {
    // the long case (4128 tokens) only for the bugs that need it: every other one shows on the short cases
    const cases = manifest.cases.filter((c) => bug.sees(c) && (bug.long || !c.rows_from));
    test.each(cases.map((c) => c.name))(`${bug.name} → ${bug.expectedFirst} (%s)`, (name) => {
      const r = runBroken(bug, byName(name));
      expect(r.ok).toBe(false);
      expect(r.firstFailure).toBe(bug.expectedFirst);
      expect(r.firstAboveNoise?.name).toBe(bug.expectedFirst);
      // everything before it is within tolerance: the report does not point one tensor early
      const at = r.compared.findIndex((t) => t.name === bug.expectedFirst);
      expect(r.compared.slice(0, at).every((t) => t.ok)).toBe(true);
    });
  }

  test('the same position offset on q and k in decode passes every case: a bug no case can see', () => {
    // (the injected rope shifts every one-token call, which on one-token is the prefill too)
    for (const c of manifest.cases.filter((x) => x.tokens.length > 1 && !x.rows_from)) { // (long-positions: slow, and seen nowhere else either)
      const r = runBroken({ name: 'offset', expectedFirst: '', sees: () => true, kernels: () => INVISIBLE_DECODE_OFFSET }, c);
      expect(r.ok, c.name).toBe(true);
    }
  });

  test('every bug is seen by some case, and the attention bugs only where T > 1 or nkv is neither 1 nor nh', () => {
    for (const bug of BUGS) expect(manifest.cases.some(bug.sees), bug.name).toBe(true);
    expect(BUGS.find((b) => b.name.startsWith('softmax'))!.sees(byName('one-token'))).toBe(false);
    expect(BUGS.find((b) => b.name.startsWith('kv head'))!.sees(byName('mha-shared'))).toBe(false);
  });
});

// (wasm with f32 activations, as conform --self: the 8-bit decode path of the quantized cases is
// checked against its own bound in tests/golden-quant.test.ts)
test.each(['ts', 'wasm'])('every golden case passes conform --self on the %s kernels, every tensor', async (backend) => {
  const kernels = backend === 'ts' ? tsKernels : await createWasmKernels({ activations: 'f32' });
  for (const c of manifest.cases) {
    const r = conformSelf(manifest, c, kernels);
    expect(r.ok, `${c.name}: first failure ${r.firstFailure}`).toBe(true);
    expect(r.missing).toEqual([]); // every golden tensor: forward, loss, gradients, AdamW (where the case has them)
    const names = r.compared.map((t) => t.name);
    expect(names).toContain('logits');
    expect(names).toContain('decode_logits');
    expect(names).toContain(`layers.${c.config.n_layers as number - 1}.out`);
    if (c.targets.length) expect(names).toContain('loss');
  }
});

test('a dump file written to disk round-trips through conform, found by case path', () => {
  const dir = mkdtempSync(join(tmpdir(), 'llama-ts-conform-'));
  const c = byName('gqa1-full-context');
  const path = join(dir, 'dump.safetensors');
  const dump = dumpForward(caseModel(manifest, c), tsKernels, c.tokens, { targets: c.targets });
  writeFileSync(path, writeSafetensors(dump));
  const found = findCase(join(manifest.root, 'cases', c.name));
  expect(found.goldenCase.name).toBe(c.name);
  const r = conformDumpFile(found.manifest, found.goldenCase, path, { only: ['forward', 'loss', 'decode', 'grad'] });
  expect(r.ok).toBe(true);
  expect(r.notChecked).toEqual(['adamw']);
  expect(r.unknown).toEqual([]);
  expect(readFileSync(path).length).toBeGreaterThan(1000);
});

test('compareTensor: bounds, outlier allowance, shapes and NaN', () => {
  const tol = { kind: 'k', pattern: '.', atol: 1e-3, rtol: 0 };
  const g = new Float64Array([1, 2, 3, 4]);
  expect(compareTensor('x', new Float64Array([1, 2, 3, 4.0005]), [4], g, [4], tol).ok).toBe(true);
  const bad = compareTensor('x', new Float64Array([1, 2, 3.1, 4]), [4], g, [4], tol);
  expect(bad.ok).toBe(false);
  expect(bad.worstIndex).toBe(2);
  expect(bad.maxAbsError).toBeCloseTo(0.1, 10);
  const withOutliers = { ...tol, outlier_fraction: 0.01, outlier_atol: 0.2 };
  expect(compareTensor('x', new Float64Array([1, 2, 3.1, 4]), [4], g, [4], withOutliers).ok).toBe(true); // one allowed, within 0.2
  expect(compareTensor('x', new Float64Array([1, 2.1, 3.1, 4]), [4], g, [4], withOutliers).ok).toBe(false); // two is too many
  expect(compareTensor('x', new Float64Array([1, 2, 3.5, 4]), [4], g, [4], withOutliers).ok).toBe(false); // beyond the cap
  expect(compareTensor('x', g, [2, 2], g, [4], tol).problem).toMatch(/shape/);
  expect(compareTensor('x', new Float64Array([1, NaN, 3, 4]), [4], g, [4], tol).problem).toMatch(/NaN at element 1/);
});
