// The terminal side of issue 18: `generate --show-probs K` (the model's top-K under each
// token; plain when piped, ANSI colour when forced) and `explain` (the self-contained HTML
// report), run as a user runs them (dist/cli.js), their numbers against the library's.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { createKVCache, forward } from '../reference/model.js';
import { tsKernels } from '../reference/ts-kernels.js';
import { tokenText } from '../src/explain/terminal.js';
import { loadModel } from '../src/formats/load-file.js';
import { topProbabilities } from '../src/generate/sampler.js';
import { tokenizerFromGGUF } from '../src/tokenizer/any-tokenizer.js';
import { cli } from './train-cli-helpers.js';

const MODEL = '../shared/data/stories260K/stories260K.gguf';
const { model, gguf } = loadModel(MODEL);
const tokenizer = tokenizerFromGGUF(gguf!.metadata, MODEL);

describe('generate --show-probs', () => {
  test('piped: plain text, each token then its top-K with the probabilities the model gives at that step', () => {
    const r = cli(['generate', '--model', MODEL, '--prompt', 'Once upon a time', '--temperature', '0', '--max-tokens', '4', '--show-probs', '3', '--backend', 'ts']);
    expect(r.stderr).toMatch(/4 tokens in/);
    expect(r.stdout).not.toContain('\x1b[');
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('Once upon a time');
    // the same steps in the library: greedy, so each next token is the top one
    const ids = tokenizer.encode('Once upon a time', { bos: true });
    for (let n = 0; n < 4; n++) {
      const logits = forward(model, tsKernels, createKVCache(model.config, ids.length), ids, 0);
      const top = topProbabilities(logits, 3);
      const shown = (t: number): string => tokenText(tokenizer, t).replace(/ /g, '␣');
      expect(lines[1 + 2 * n]).toBe(shown(top[0].token));
      expect(lines[2 + 2 * n]).toBe(`    ${top.map((a, i) => `${shown(a.token)} ${(a.prob * 100).toFixed(2)}%${i === 0 ? ' *' : ''}`).join('  ')}`);
      ids.push(top[0].token);
    }
  });

  test('FORCE_COLOR: the chosen token in bold green, the others dim; NO_COLOR alone keeps a pipe plain', () => {
    const args = ['generate', '--model', MODEL, '--prompt', 'Once', '--temperature', '0', '--max-tokens', '2', '--show-probs', '2', '--backend', 'ts'];
    const colored = cli(args, { FORCE_COLOR: '1' }).stdout;
    expect(colored).toMatch(/\x1b\[1;32m␣upon \d+\.\d\d% \*\x1b\[0m {2}\x1b\[2m/);
    expect(cli(args, { NO_COLOR: '1' }).stdout).not.toContain('\x1b[');
  });

  test('bad values are clear errors', () => {
    const r = cli(['generate', '--model', MODEL, '--show-probs', '0', '--max-tokens', '1']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('--show-probs expects a positive integer, got 0');
    expect(cli(['generate', '--model', MODEL, '--show-probs', 'x']).stderr).toContain('--show-probs expects a number, got "x"');
  });
});

describe('explain', () => {
  const dir = mkdtempSync(join(tmpdir(), 'llama-ts-explain-'));

  test('writes one self-contained HTML file with every view, for stories260K', () => {
    const out = join(dir, 'report.html');
    const r = cli(['explain', '--model', MODEL, '--prompt', 'Once upon a time', '--out', out, '--layer', '2', '--head', '5']);
    expect(r.stderr).toBe(`wrote ${out}\n`);
    expect(r.status).toBe(0);
    const html = readFileSync(out, 'utf8');
    for (const view of ['distribution', 'attention', 'attention-log', 'heads', 'lens', 'rmsnorm', 'rope', 'swiglu', 'residual']) expect(html).toContain(`id="view-${view}"`);
    expect(html).toContain('Attention: layer 2, head 5');
    expect(html).toContain('computed by <code>rope</code> in <code>reference/rope.ts</code>');
    expect(html).not.toMatch(/<script|<link|<img|src=|href=|url\(/i); // nothing to fetch, nothing to run
    // the greedy choice marked is the model's top token
    const ids = tokenizer.encode('Once upon a time', { bos: true });
    const top = topProbabilities(forward(model, tsKernels, createKVCache(model.config, ids.length), ids, 0), 1)[0];
    const sampled = /<g class="bar sampled " data-token="(\d+)" data-prob="([^"]+)"/.exec(html)!;
    expect(Number(sampled[1])).toBe(top.token);
    expect(Number(sampled[2])).toBeCloseTo(top.prob, 12); // (summed in another order)
  });

  test('with sampling settings and a seed, the token marked is the one generate draws with that seed', () => {
    const out = join(dir, 'sampled.html');
    const sampling = ['--temperature', '1.5', '--top-k', '20', '--top-p', '0.95'];
    for (const seed of ['3', '11']) {
      expect(cli(['explain', '--model', MODEL, '--prompt', 'Lily saw a', '--out', out, '--seed', seed, ...sampling]).status).toBe(0);
      const marked = Number(/<g class="bar sampled[^"]*" data-token="(\d+)"/.exec(readFileSync(out, 'utf8'))![1]);
      const generated = cli(['generate', '--model', MODEL, '--prompt', 'Lily saw a', '--max-tokens', '1', '--seed', seed, '--show-probs', '1', '--backend', 'ts', ...sampling]);
      expect(generated.stdout.split('\n')[1]).toBe(tokenText(tokenizer, marked).replace(/ /g, '␣'));
    }
  });

  test('bad input: clear errors', () => {
    expect(cli(['explain', '--model', MODEL, '--prompt', 'x']).stderr).toContain('explain needs --prompt and --out');
    const r = cli(['explain', '--model', MODEL, '--prompt', 'Once', '--out', join(dir, 'x.html'), '--head', '8']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('head must be an integer in 0..7, got 8');
    expect(cli(['explain', '--model', MODEL, '--prompt', 'Once', '--out', join(dir, 'x.html'), '--top-p', '2']).stderr).toContain('top-p must be in (0, 1], got 2');
  });
});
