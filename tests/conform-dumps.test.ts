// conform on dumps that are incomplete, misnamed or broken in one place: it must not pass what
// it did not check, must say where an error is, and (the CLI) must exit 0 / 1 / 2 and print
// JSON for every outcome with --json.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { tsKernels } from '../reference/ts-kernels.js';
import { conformDumpFile, conformTensors, formatReport, fromWritten, reportJson } from '../src/conform/conform.js';
import { dumpForward } from '../src/conform/dump.js';
import { caseModel, readManifest } from '../src/conform/golden.js';
import { didYouMean, parseParts } from '../src/conform/parts.js';
import { plural, tensorPosition } from '../src/conform/position.js';
import { conformTokenizerFiles, idsDifference } from '../src/conform/tokenizer-conform.js';
import { writeSafetensors, type TensorToWrite } from '../src/formats/safetensors.js';
import * as library from '../src/index.js';

const root = resolve(__dirname, '..');
const manifest = readManifest();
const c = manifest.cases.find((x) => x.name === 'mha-shared')!; // hd = 32 / 4 = 8, V = 64
const good = dumpForward(caseModel(manifest, c), tsKernels, c.tokens, { targets: c.targets }); // all but adamw
const noAdamW = { only: ['forward', 'loss', 'decode', 'grad'] as const };

type Edit = (tensors: Array<[string, TensorToWrite]>) => Array<[string, TensorToWrite]>;
const edited = (edit: Edit) => edit(good.map(([n, t]) => [n, { ...t, data: t.data.slice() } as TensorToWrite]));
const conform = (edit: Edit, options: Parameters<typeof conformTensors>[3] = { only: [...noAdamW.only] }) =>
  conformTensors(manifest, c, fromWritten(edited(edit)), options);
const rename = (from: string, to: string): Edit => (ts) => ts.map(([n, t]) => [n === from ? to : n, t]);
const drop = (...names: string[]): Edit => (ts) => ts.filter(([n]) => !names.includes(n));
const poke = (name: string, index: number, value: (x: number) => number): Edit => (ts) => {
  const t = ts.find(([n]) => n === name)![1];
  (t.data as Float32Array)[index] = value(t.data[index] as number);
  return ts;
};

describe('nothing passes unchecked', () => {
  test('the whole dump passes; without --only the missing AdamW tensors fail', () => {
    expect(conform((ts) => ts).ok).toBe(true);
    const all = conform((ts) => ts, {});
    expect(all.ok).toBe(false);
    expect(all.firstFailure).toBe('adamw.1.tok_embeddings.weight');
    expect(all.missing).toHaveLength(c.tensors.filter((n) => n.startsWith('adamw.')).length);
  });

  test('a misnamed tensor fails, as missing and as unknown with a "did you mean"', () => {
    const r = conform(rename('layers.0.q', 'layer.0.q'));
    expect(r.ok).toBe(false);
    expect(r.firstFailure).toBe('layers.0.q');
    expect(r.missing).toEqual(['layers.0.q']);
    expect(r.unknown).toEqual([{ name: 'layer.0.q', didYouMean: 'layers.0.q' }]);
    expect(formatReport(r)).toMatch(/layer\.0\.q .*FAIL +not a tensor of case mha-shared \(did you mean "layers\.0\.q"\?\)/);
  });

  test('an extra tensor no case has fails even when every golden tensor is there', () => {
    const r = conform((ts) => [...ts, ['layers.0.qk', { dtype: 'F32', shape: [1], data: new Float32Array(1) }]]);
    expect(r.ok).toBe(false);
    expect(r.firstFailure).toBe('unknown tensor "layers.0.qk"');
    expect(r.unknown[0].didYouMean).toBe('layers.0.q');
  });

  test('a dump without tokens, or without targets where the loss is checked, fails', () => {
    const noTokens = conform(drop('tokens'));
    expect([noTokens.ok, noTokens.firstFailure, noTokens.missing]).toEqual([false, 'tokens', ['tokens']]);
    const noTargets = conform(drop('targets'));
    expect([noTargets.ok, noTargets.firstFailure]).toEqual([false, 'targets']);
  });

  test('--only forward,decode: an inference port passes without targets, and the report says what was not checked', () => {
    const r = conform(drop('targets', 'loss', ...good.map(([n]) => n).filter((n) => n.startsWith('grad.'))), { only: ['forward', 'decode'] });
    expect(r.ok).toBe(true);
    expect(r.checked).toEqual(['forward', 'decode']);
    expect(r.notChecked).toEqual(['loss', 'grad', 'adamw']);
    expect(formatReport(r)).toMatch(/checked: forward, decode; not checked \(--only\): loss, grad, adamw/);
    const withGrads = conform((ts) => ts, { only: ['forward', 'decode'] });
    expect(withGrads.ok).toBe(true);
    expect(withGrads.unchecked).toContain('grad.norm.weight');
    expect(withGrads.unchecked).toContain('loss');
    expect(conform(drop('decode_logits'), { only: ['forward', 'decode'] }).firstFailure).toBe('decode_logits');
  });
});

describe('where: coordinates, values, problems', () => {
  test('an error in attn is given as [t, head, i], one in logits as [t, i], in a gradient as [row, col]', () => {
    const attn = conform(poke('layers.0.attn', 3 * 32 + 2 * 8 + 5, (x) => x + 0.01));
    expect(attn.firstFailure).toBe('layers.0.attn');
    const row = attn.compared.find((t) => t.name === 'layers.0.attn')!;
    expect(row.worstAt).toBe('[t=3, head=2, i=5]');
    expect(formatReport(attn)).toMatch(/layers\.0\.attn .* FAIL +\(1 element out, worst at \[t=3, head=2, i=5\]\)/);
    expect(formatReport(attn)).not.toMatch(/1 elements/);
    const logits = conform(poke('logits', 2 * 64 + 7, (x) => x + 0.01));
    expect(logits.compared.find((t) => t.name === 'logits')!.worstAt).toBe('[t=2, i=7]');
    const grad = conform(poke('grad.layers.1.attention.wo.weight', 5 * 32 + 6, (x) => x + 0.01));
    expect(grad.compared.find((t) => t.name === grad.firstFailure)!.worstAt).toBe('[row=5, col=6]');
  });

  test('tokens that differ say where and what', () => {
    const r = conform((ts) => {
      (ts[0][1].data as Int32Array)[0] = c.tokens[0] + 1;
      return ts;
    });
    expect(r.firstFailure).toBe('tokens');
    expect(r.compared[0].problem).toBe(`tokens differ at position 0: ${c.tokens[0] + 1} vs ${c.tokens[0]}`);
  });

  test('NaN, Infinity and a wrong shape each carry a problem; JSON says "Infinity", never null', () => {
    const inf = conform(poke('layers.1.v', 4 * 32 + 9, () => Infinity));
    const v = inf.compared.find((t) => t.name === 'layers.1.v')!;
    expect(v.problem).toBe('Infinity at [t=4, head=1, i=1]');
    const json = JSON.parse(reportJson(inf));
    expect(json.compared.find((t: { name: string }) => t.name === 'layers.1.v').maxAbsError).toBe('Infinity');
    expect(reportJson(inf)).not.toMatch(/null/);
    expect(conform(poke('norm', 1, () => NaN)).compared.find((t) => t.name === 'norm')!.problem).toBe('NaN at [t=0, i=1]');
    const shape = conform((ts) => ts.map(([n, t]) => [n, n === 'embedding' ? { ...t, shape: [t.shape[1], t.shape[0]] } : t]));
    expect(shape.compared.find((t) => t.name === 'embedding')!.problem).toBe('shape [32,16] but golden is [16,32]');
  });

  test('tensorPosition, plural, didYouMean, parseParts', () => {
    expect(tensorPosition('layers.3.k', [5, 16], 37, 8)).toBe('[t=2, head=0, i=5]');
    expect(tensorPosition('layers.3.ffn_out', [5, 16], 37, 8)).toBe('[t=2, i=5]');
    expect(tensorPosition('grad.norm.weight', [16], 7)).toBe('[i=7]');
    expect(tensorPosition('tokens', [16], 7)).toBe('[position 7]');
    expect(tensorPosition('loss', [], 0)).toBe('[]');
    expect([plural(1, 'element'), plural(2, 'element')]).toEqual(['1 element', '2 elements']);
    expect(didYouMean('layers.0.attention_nrom', c.tensors)).toBe('layers.0.attention_norm');
    expect(didYouMean('something else entirely', c.tensors)).toBeUndefined();
    expect(parseParts('decode, forward')).toEqual(['forward', 'decode']);
    expect(() => parseParts('forward,backward')).toThrow(/--only: unknown part "backward" \(parts: forward, loss, decode, grad, adamw\)/);
  });
});

describe('tokenizer ids', () => {
  const dir = mkdtempSync(join(tmpdir(), 'llama-ts-conform-tok-'));
  const caseFile = join(root, 'golden/tokenizer/tok512.json');
  const golden: Array<{ text: string; ids: number[] }> = JSON.parse(readFileSync(caseFile, 'utf8')).cases;
  const write = (name: string, lines: string[]) => {
    const path = join(dir, name);
    writeFileSync(path, lines.join('\n') + '\n');
    return path;
  };

  test('the golden ids pass; one changed id is named by case and position', () => {
    expect(conformTokenizerFiles(caseFile, write('same.jsonl', golden.map((g) => JSON.stringify(g.ids)))).ok).toBe(true);
    const changed = golden.map((g, i) => JSON.stringify(i === 5 ? { ids: [g.ids[0] + 1, ...g.ids.slice(1)], text: g.text } : { ids: g.ids }));
    const r = conformTokenizerFiles(caseFile, write('changed.jsonl', changed));
    expect(r.ok).toBe(false);
    expect(r.mismatches).toEqual([{ case: 5, text: golden[5].text, message: `ids differ at position 0: ${golden[5].ids[0] + 1} vs ${golden[5].ids[0]}` }]);
  });

  test('the library exports the tokenizer check and the JSON report (for a port\'s own tooling)', () => {
    expect(library.conformTokenizerFiles).toBe(conformTokenizerFiles);
    expect(library.reportJson).toBe(reportJson);
    expect(library.reportJson({ x: Infinity })).toBe('{"x":"Infinity"}');
  });

  test('a short list, a missing line, a wrong text and bad JSON are each named', () => {
    expect(idsDifference([1, 2], [1, 2, 3])).toBe('ids end at position 2; golden goes on with 3 (3 ids in all)');
    expect(idsDifference([1, 2, 3], [1, 2])).toBe('ids go on at position 2 with 3; golden ends there (2 ids in all)');
    expect(() => conformTokenizerFiles(caseFile, write('short.jsonl', golden.slice(1).map((g) => JSON.stringify(g.ids))))).toThrow(/300 lines of ids, but .*tok512\.json has 301 cases/);
    expect(() => conformTokenizerFiles(caseFile, write('text.jsonl', golden.map((g, i) => JSON.stringify({ ids: g.ids, text: i === 2 ? 'x' : g.text }))))).toThrow(/text\.jsonl line 3: "text" is "x"/);
    expect(() => conformTokenizerFiles(caseFile, write('bad.jsonl', ['[1, 2', ...golden.slice(1).map((g) => JSON.stringify(g.ids))]))).toThrow(/bad\.jsonl line 1: not JSON/);
  });
});

describe('the CLI: exit 0 conforms, 1 does not, 2 the command or a file is wrong; --json always JSON', () => {
  const dir = mkdtempSync(join(tmpdir(), 'llama-ts-conform-cli-'));
  const cli = (args: string[]) => spawnSync(process.execPath, [join(root, 'dist/cli.js'), 'conform', ...args], { encoding: 'utf8', timeout: 120_000 });
  const file = (name: string, tensors: Array<[string, TensorToWrite]>) => {
    const path = join(dir, name);
    writeFileSync(path, writeSafetensors(tensors));
    return path;
  };
  const only = ['--only', 'forward,loss,decode,grad'];
  const passing = file('good.safetensors', good);
  const failing = file('bad.safetensors', edited(poke('layers.0.attn', 0, (x) => x + 1)));

  test('0 and 1, text and JSON', () => {
    const ok = cli(['mha-shared', passing, ...only]);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/mha-shared: PASS, 47 tensors within tolerance/);
    const bad = cli(['mha-shared', failing, ...only, '--json']);
    expect(bad.status).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({ ok: false, firstFailure: 'layers.0.attn' });
    expect(cli(['mha-shared', passing]).status).toBe(1); // AdamW tensors missing, no --only
  });

  const wrong: Array<[string, string[], RegExp]> = [
    ['an unknown case', ['no-such-case', passing], /no golden case "no-such-case"/],
    ['a missing dump file', ['mha-shared', join(dir, 'nope.safetensors')], /nope\.safetensors/],
    ['a dump that is not safetensors', ['mha-shared', join(root, 'package.json')], /package\.json/],
    ['an unknown part', ['mha-shared', passing, '--only', 'forwards'], /unknown part "forwards"/],
    ['an unknown flag', ['mha-shared', passing, '--frobnicate'], /frobnicate/],
    ['one positional', ['mha-shared'], /takes GOLDEN_CASE and DUMP/],
    ['--tokenizer without IDS', ['--tokenizer', join(root, 'golden/tokenizer/tok512.json')], /takes CASEFILE and IDS\.jsonl/],
    ['--tokenizer with a missing file', ['--tokenizer', join(root, 'golden/tokenizer/tok512.json'), join(dir, 'none.jsonl')], /none\.jsonl/],
  ];
  test.each(wrong)('2 for %s, and JSON with --json', (_what, args, message) => {
    const text = cli(args);
    expect(text.status).toBe(2);
    expect(text.stderr).toMatch(message);
    const json = cli([...args, '--json']);
    expect(json.status).toBe(2);
    const parsed = JSON.parse(json.stdout);
    expect(parsed.ok).toBe(false);
    expect(parsed.exit).toBe(2);
    expect(parsed.error).toMatch(message);
  });
});

// golden/port-kit: the Python writer a port starts from writes what conform reads. Needs
// NumPy (Debian's python3-numpy, installed by .ci/run, as for the golden generator).
const PYTHON = '/usr/bin/python3';
const numpyAvailable = spawnSync(PYTHON, ['-c', 'import numpy'], { encoding: 'utf8' }).status === 0;
describe.runIf(numpyAvailable)('the port kit', () => {
  const dir = mkdtempSync(join(tmpdir(), 'llama-ts-port-kit-'));
  const kit = (args: string[]) => spawnSync(PYTHON, [join(root, 'golden/port-kit/dump_writer.py'), ...args], { encoding: 'utf8', timeout: 120_000 });

  test.each(['mha-shared', 'stories260K'])('its writer, given the golden values, makes a dump of %s that conforms', (name) => {
    const out = join(dir, `${name}.safetensors`);
    const w = kit([name, out, '--copy-expected']);
    expect(w.status, w.stderr).toBe(0);
    const goldenCase = manifest.cases.find((x) => x.name === name)!;
    const r = conformTensors(manifest, goldenCase, fromWritten([]), {}); // the empty dump fails on every tensor
    expect(r.missing).toHaveLength(goldenCase.tensors.length);
    const dumped = conformDumpFile(manifest, goldenCase, out);
    expect(dumped.ok).toBe(true);
    expect(dumped.compared).toHaveLength(goldenCase.tensors.length);
  });

  test('--only forward,decode writes an inference dump; an unfilled port says where to start', () => {
    const out = join(dir, 'inference.safetensors');
    expect(kit(['one-token', out, '--only', 'forward,decode', '--copy-expected']).status).toBe(0);
    const goldenCase = manifest.cases.find((x) => x.name === 'one-token')!;
    expect(conformDumpFile(manifest, goldenCase, out, { only: ['forward', 'decode'] }).ok).toBe(true);
    expect(conformDumpFile(manifest, goldenCase, out).missing).toContain('loss');
    const empty = kit(['one-token', join(dir, 'none.safetensors')]);
    expect(empty.status).not.toBe(0);
    expect(empty.stderr).toMatch(/run_my_port: put your model here/);
  });
});
