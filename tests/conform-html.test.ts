// conform --html: the error of every tensor through the layers, the first divergent one
// marked, for a port with a real bug (conform-bugs.ts: no causal mask) and for a clean dump.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { tsKernels } from '../reference/ts-kernels.js';
import { dumpForward } from '../src/conform/dump.js';
import { caseModel, readManifest } from '../src/conform/golden.js';
import { writeSafetensors } from '../src/formats/safetensors.js';
import { BUGS } from './conform-bugs.js';

const root = resolve(__dirname, '..');
const manifest = readManifest();
const c = manifest.cases.find((x) => x.name === 'mha-shared')!;
const dir = mkdtempSync(join(tmpdir(), 'llama-ts-conform-html-'));
const cli = (args: string[]) => spawnSync(process.execPath, [join(root, 'dist/cli.js'), 'conform', ...args], { encoding: 'utf8', timeout: 120_000 });
const only = ['--only', 'forward,loss,decode,grad'];

function dump(name: string, kernels = tsKernels): string {
  const path = join(dir, name);
  writeFileSync(path, writeSafetensors(dumpForward(caseModel(manifest, c), kernels, c.tokens, { targets: c.targets })));
  return path;
}

describe('conform --html', () => {
  test('a port without the causal mask: the chart marks layers.0.attn, the error grows after it, the table names it', () => {
    const bug = BUGS.find((b) => b.name === 'softmax over the whole row, no causal mask')!;
    const out = join(dir, 'bad.html');
    const r = cli(['mha-shared', dump('bad.safetensors', bug.kernels!(c)), ...only, '--html', out]);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('FAIL, first divergence at layers.0.attn');
    const html = readFileSync(out, 'utf8');
    expect(html).toContain('conform mha-shared: FAIL: first divergence at layers.0.attn');
    expect(html).toMatch(/<g class="mark" data-x="\d+">.*first divergent: layers\.0\.attn/);
    expect(html).toContain('<tr class="fail" data-name="layers.0.attn" id="first-divergent">');
    expect(html).toContain('<tr class="ok" data-name="layers.0.v">'); // before it: fine
    expect(html).toContain('<tr class="fail" data-name="logits">'); // and the error carried to the end
    expect(html).not.toMatch(/<script|src=|href=/i);
    // one point per tensor with an error to draw (token ids have none) on the tolerance line,
    // and the failing ones above it on the line of the share used
    const rows = html.match(/<tr class="(ok|fail)"/g)!.length;
    const ids = html.match(/<td>index<\/td>/g)!.length; // tokens, targets
    expect(html.match(/<title>tolerance \(1\) /g)!.length).toBe(rows - ids);
    expect(html).toMatch(/<title>share of the tolerance used layers\.0\.attn: \d/);
  });

  test('a clean dump passes, with no mark; --html with --self is a clear error', () => {
    const out = join(dir, 'good.html');
    expect(cli(['mha-shared', dump('good.safetensors'), ...only, '--html', out]).status).toBe(0);
    const html = readFileSync(out, 'utf8');
    expect(html).toMatch(/conform mha-shared: PASS: \d+ tensors within tolerance/);
    expect(html).not.toContain('first divergent:');
    const self = cli(['--self', '--html', out]);
    expect(self.status).toBe(2);
    expect(self.stderr).toContain('--html is for one dump');
  });
});
