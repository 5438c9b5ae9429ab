// What each quantization type costs in quality: KL divergence from the F32 model and the
// perplexity ratio, with src/eval's tooling (what `llama-ts perplexity --save-logits` and
// `--kl-divergence` run), for Q8_0, Q6_K, Q5_K_M, Q4_K_M, Q4_0, Q3_K_M and Q2_K as
// `llama-ts quantize` writes them (llama.cpp's per-tensor mixtures, mixtures.ts; the same
// bytes as llama.cpp's reference quantizers, tests/kquants.test.ts). Writes
// bench/results/quant-quality.json.
//
//   npm run bench:quant-quality -- [--chunks 16] [--context 128] [--threads 2] [--backend wasm|ts]
//                                   [--only kjv,15M,512] [--out FILE]
//
// Models, each against its own F32 file, on models/tasks/kjv-heldout.txt:
//   kjv   the default model (trained: dim 128, 4 layers, vocab 1024). Its rows of 128 and 352
//         are not whole blocks of 256, so every K-quant falls back to its 32-value type there.
//   15M   stories15M's shape (dim 288, 6 layers, hidden 768, vocab 32000, LLaMA tokenizer):
//         rows of 288 fall back too, ffn_down's rows of 768 take the K-quants.
//   512   dim 512, 8 layers, hidden 1536, vocab 32000: every matrix takes its K-quant.
// No trained model of the last two shapes exists here, so they hold random weights (std 0.08,
// norm gains jittered): their text is noise and their KL measures how much each type moves
// a distribution, not what it costs a language model. The wasm backend (the default) runs
// K-quant matrices decoded to f16 (widen.ts), which adds f16 rounding; --backend ts runs them
// as stored (slower).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { LlamaConfig } from '../reference/config.js';
import { randomModel } from '../reference/init.js';
import { quantizeFile, type QuantizeType } from '../src/convert/quantize-file.js';
import { namedMatrices } from '../src/convert/storage.js';
import { modelToGGUF } from '../src/convert/to-gguf.js';
import { planChunks } from '../src/eval/chunks.js';
import { klDivergence, planFromBase } from '../src/eval/kl-divergence.js';
import { loadEvaluator } from '../src/llama.js';
import { LogitsReader, LogitsWriter, logitsHeaderFor } from '../src/eval/logits-file.js';
import { perplexityOfPlan, tokenizeForPerplexity } from '../src/eval/perplexity.js';
import { loadModel } from '../src/formats/load-file.js';
import type { BackendName } from '../src/llama.js';
import { intFlag, listFlag, parseFlags } from './lib/args.js';
import { loadavg, machineInfo } from './lib/machine.js';
import { loadVocabulary, SHAPES } from './lib/models.js';
import { LLAMA_TOKENIZER, RESULTS_DIR, ROOT } from './lib/paths.js';

const TYPES: QuantizeType[] = ['q8_0', 'q6_k', 'q5_k_m', 'q4_k_m', 'q4_0', 'q3_k_m', 'q2_k'];
const SUBJECTS = ['kjv', '15M', '512'] as const;
type Subject = (typeof SUBJECTS)[number];
const TEXT = join(ROOT, 'models/tasks/kjv-heldout.txt');

const SHAPE_512: LlamaConfig = { ...SHAPES['15M'], dim: 512, nLayers: 8, nHeads: 8, nKvHeads: 8, hiddenDim: 1536 };

interface Row {
  model: Subject;
  type: string;
  fileBytes: number;
  matrices: Record<string, number>; // how many matrices are stored in each type
  ppl: number;
  pplRatio: number;
  pplRatioError: number;
  meanKld: number;
  meanKldError: number;
  medianKld: number;
  p99Kld: number;
  sameTop: number;
  rmsDeltaP: number;
}

const flags = parseFlags(process.argv.slice(2), ['chunks', 'context', 'threads', 'backend', 'only', 'out'], []);
const chunks = intFlag(flags, 'chunks', 16, 1, 100000);
const context = intFlag(flags, 'context', 128, 8, 4096);
const threads = intFlag(flags, 'threads', 2, 1, 256);
const backend = String(flags.get('backend') ?? 'wasm') as BackendName;
if (backend !== 'wasm' && backend !== 'ts') throw new Error(`--backend: "${backend}" is neither wasm nor ts`);
const only = listFlag(flags, 'only', [...SUBJECTS]);
for (const o of only) if (!(SUBJECTS as readonly string[]).includes(o)) throw new Error(`--only: "${o}" is none of ${SUBJECTS.join(', ')}`);
const out = resolve(String(flags.get('out') ?? join(RESULTS_DIR, 'quant-quality.json')));
const text = readFileSync(TEXT, 'utf8');

// The F32 GGUF of a subject, written to dir (kjv: the shipped file, already F32).
function baseFile(subject: Subject, dir: string): string {
  if (subject === 'kjv') return join(ROOT, 'models/kjv.gguf');
  const config = subject === '15M' ? SHAPES['15M'] : SHAPE_512;
  const model = randomModel(config, subject === '15M' ? 15 : 512, { std: 0.08, gainJitter: 0.3 });
  const path = join(dir, `${subject}-f32.gguf`);
  writeFileSync(path, modelToGGUF(model, { dtype: 'f32', vocabulary: loadVocabulary(LLAMA_TOKENIZER) }));
  return path;
}

async function saveBaseLogits(base: string, logits: string): Promise<number> {
  const ev = await loadEvaluator({ model: base, contextLength: context, threads, backend });
  try {
    const plan = planChunks(tokenizeForPerplexity(ev, text), context, chunks, TEXT);
    const writer = new LogitsWriter(logits, logitsHeaderFor(plan, ev.modelName, ev.model.config.vocabSize), plan.tokens.slice(0, plan.chunks * plan.context));
    const result = perplexityOfPlan(ev, plan, { onScoredRow: (row, target) => writer.writeRow(row, target) });
    writer.close();
    return result.perplexity;
  } finally {
    await ev.close();
  }
}

async function compare(subject: Subject, type: string, path: string, logits: string): Promise<Row> {
  const ev = await loadEvaluator({ model: path, contextLength: context, threads, backend });
  const base = new LogitsReader(logits);
  try {
    const r = klDivergence(ev, planFromBase(ev, text, base, TEXT), base);
    const matrices: Record<string, number> = {};
    for (const [, t] of namedMatrices(loadModel(path).model)) matrices[t.dtype] = (matrices[t.dtype] ?? 0) + 1;
    return {
      model: subject, type, fileBytes: statSync(path).size, matrices,
      ppl: round(r.pplQ.value, 4), pplRatio: round(r.pplRatio.value, 5), pplRatioError: round(r.pplRatio.error, 5),
      meanKld: round(r.kl.value, 6), meanKldError: round(r.kl.error, 6), medianKld: round(r.klPercentiles.median, 6),
      p99Kld: round(r.klPercentiles.p99, 5), sameTop: round(r.sameTop.value, 4), rmsDeltaP: round(r.rmsDeltaP, 5),
    };
  } finally {
    base.close();
    await ev.close();
  }
}

function round(x: number, digits: number): number {
  return Number(x.toPrecision(digits));
}

function log(line: string): void {
  process.stdout.write(line + '\n');
}

async function main(): Promise<void> {
  const machine = machineInfo();
  log(`llama-ts quantization quality: ${chunks} chunks of ${context} of ${TEXT}, backend ${backend}`);
  const dir = mkdtempSync(join(tmpdir(), 'llama-ts-quant-quality-'));
  const rows: Row[] = [];
  const basePerplexity: Record<string, number> = {};
  try {
    for (const subject of SUBJECTS.filter((s) => only.includes(s))) {
      const base = baseFile(subject, dir);
      const logits = join(dir, `${subject}.logits`);
      basePerplexity[subject] = round(await saveBaseLogits(base, logits), 5);
      log(`${subject}: F32 PPL ${basePerplexity[subject]}`);
      for (const type of TYPES) {
        const path = join(dir, `${subject}-${type}.gguf`);
        quantizeFile(base, path, { type });
        const row = await compare(subject, type, path, logits);
        rows.push(row);
        rmSync(path, { force: true });
        log(`  ${type.padEnd(7)} ${row.fileBytes} bytes  PPL ratio ${row.pplRatio} ± ${row.pplRatioError}  mean KLD ${row.meanKld} ± ${row.meanKldError}  same top ${(100 * row.sameTop).toFixed(2)} %  ${JSON.stringify(row.matrices)}`);
      }
      rmSync(logits, { force: true });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  machine.loadavgAfter = loadavg();
  const report = {
    schema: 'llama-ts-bench-quant-quality/1', date: new Date().toISOString(), machine,
    settings: { text: 'models/tasks/kjv-heldout.txt', chunks, context, backend, threads, randomInit: { std: 0.08, gainJitter: 0.3 } },
    basePerplexity, rows,
  };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
  log(`wrote ${out}`);
}

main().then(
  () => process.exit(0),
  (error: Error) => {
    process.stderr.write(`bench: ${error.stack ?? error.message}\n`);
    process.exit(1);
  },
);
