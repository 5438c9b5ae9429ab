// npm run fuzz -- [--target NAME[,NAME]] [--cases N] [--seed S] [--minutes M] [--workers W]
//
// Splits N cases over the targets by weight, in batches, round-robin, and runs them in W
// workers with resourceLimits. A watchdog ends a worker whose case outlives --hang-ms and
// records that case as a hang; a worker that dies (heap limit, crash) records its case too.
// Every defect is saved, minimized where it could be, under bench/fuzz/regressions/<target>/
// (the tests replay them forever), and the run's counts, cases per second and peak memory
// go to bench/results/fuzz.json (or --out).
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { intFlag, listFlag, parseFlags } from '../lib/args.js';
import { recipeAt, TARGETS, targetNamed, type BatchStats, type Defect } from './batch.js';
import { MEMORY_BASE, MEMORY_PER_INPUT_BYTE } from './run-case.js';
import { removeFuzzFolders } from './targets-files.js';
import type { BatchRequest } from './worker.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = join(HERE, '..', '..');

const flags = parseFlags(process.argv.slice(2), ['target', 'cases', 'seed', 'minutes', 'workers', 'batch', 'out', 'save', 'deadline-ms', 'hang-ms', 'heap-mb'], []);
const targets = listFlag(flags, 'target', TARGETS.map((t) => t.name)).map(targetNamed);
const totalCases = intFlag(flags, 'cases', 20_000);
const seed = intFlag(flags, 'seed', 1, 0, 2 ** 31 - 1);
const minutes = flags.has('minutes') ? Number(flags.get('minutes')) : Infinity;
const workers = intFlag(flags, 'workers', 2, 1, 64);
const batchSize = intFlag(flags, 'batch', 500);
const deadlineMs = intFlag(flags, 'deadline-ms', 2000);
const hangMs = intFlag(flags, 'hang-ms', 90_000); // past the slowest deadline (2 s + 20 ms per KB)
const heapMb = intFlag(flags, 'heap-mb', 512, 64);
const out = String(flags.get('out') ?? join(REPO, 'bench', 'results', 'fuzz.json'));
const saveDir = String(flags.get('save') ?? join(REPO, 'bench', 'fuzz', 'regressions'));
if (!(minutes > 0)) throw new Error(`--minutes must be positive, got ${String(flags.get('minutes'))}`);

// The batches, interleaved across targets so that a run cut short by --minutes covered all.
const weight = targets.reduce((n, t) => n + t.weight, 0);
const queues = targets.map((t) => {
  const n = Math.max(1, Math.round((totalCases * t.weight) / weight));
  return Array.from({ length: Math.ceil(n / batchSize) }, (_, i): BatchRequest => ({
    target: t.name, seed: seed * 100_003 + i * 7919 + hashName(t.name), cases: Math.min(batchSize, n - i * batchSize), deadlineMs,
  }));
});
const batches: BatchRequest[] = [];
for (let i = 0; queues.some((q) => i < q.length); i++) for (const q of queues) if (i < q.length) batches.push(q[i]);

function hashName(name: string): number {
  return createHash('sha256').update(name).digest().readUInt32LE(0) % 1_000_000;
}

interface TargetTotals { cases: number; ok: number; refused: number; defects: number; seconds: number; casesPerSecond: number; maxCaseMs: number; maxAllocatedBytes: number; maxAllocatedPerInputByte: number }
const totals = new Map(targets.map((t): [string, TargetTotals] => [t.name, { cases: 0, ok: 0, refused: 0, defects: 0, seconds: 0, casesPerSecond: 0, maxCaseMs: 0, maxAllocatedBytes: 0, maxAllocatedPerInputByte: 0 }]));
const defects: (Omit<Defect, 'input'> & { file: string })[] = [];
let peakHeap = 0, peakRss = 0;

function save(d: Defect): void {
  const t = targetNamed(d.target);
  const hash = createHash('sha256').update(d.input).digest('hex').slice(0, 12);
  const dir = join(saveDir, d.target);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${d.kind}-${hash}.${t.extension}`);
  writeFileSync(file, d.input);
  const { input: _, ...rest } = d;
  defects.push({ ...rest, file: file.slice(REPO.length + 1) });
  console.log(`DEFECT ${d.target} ${d.kind}: ${d.message.split('\n')[0].slice(0, 300)}\n  saved ${file}`);
}

function add(s: BatchStats): void {
  const t = totals.get(s.target)!;
  t.cases += s.ran; t.ok += s.ok; t.refused += s.refused; t.seconds += s.ms / 1000;
  t.maxCaseMs = Math.max(t.maxCaseMs, s.maxCaseMs);
  t.maxAllocatedBytes = Math.max(t.maxAllocatedBytes, s.maxAllocated);
  t.maxAllocatedPerInputByte = Math.max(t.maxAllocatedPerInputByte, s.maxAllocatedRatio);
  if (s.defect) { t.defects++; save(s.defect); }
}

// A case that never reported (hang, or its worker died): rebuilt from its recipe and saved.
function lost(req: BatchRequest, index: number, kind: string, message: string): void {
  const t = targetNamed(req.target);
  totals.get(req.target)!.cases += index + 1;
  totals.get(req.target)!.defects++;
  const input = t.build(recipeAt(t, req.seed, index));
  save({ target: req.target, seed: req.seed, path: String(index), kind, message, input: t.encode(input), inputBytes: t.size(input) });
}

const t0 = performance.now();
const deadline = Date.now() + minutes * 60_000;
let next = 0;

function startWorker(): Promise<void> {
  return new Promise((done) => {
    const status = new SharedArrayBuffer(16);
    const flagsView = new Int32Array(status, 0, 2), started = new Float64Array(status, 8, 1);
    const w = new Worker(join(HERE, 'fuzz-worker.js'), { workerData: { status }, resourceLimits: { maxOldGenerationSizeMb: heapMb, maxYoungGenerationSizeMb: 64, stackSizeMb: 4 } });
    let current: BatchRequest | undefined;
    let finished = false;
    const send = () => {
      if (next >= batches.length || Date.now() > deadline) { finished = true; clearInterval(watch); void w.terminate(); return done(); }
      current = batches[next++];
      w.postMessage(current);
    };
    const watch = setInterval(() => {
      if (Atomics.load(flagsView, 0) === 1 && Date.now() - started[0] > hangMs && current) {
        const req = current;
        current = undefined;
        finished = true;
        clearInterval(watch);
        void w.terminate().then(() => {
          lost(req, Atomics.load(flagsView, 1), 'hang', `case still running after ${hangMs} ms`);
          void startWorker().then(done);
        });
      }
    }, 250);
    w.on('message', (m: { stats: BatchStats; peakHeap: number }) => {
      add(m.stats);
      peakHeap = Math.max(peakHeap, m.peakHeap);
      send();
    });
    w.on('error', (e) => {
      if (finished) return;
      finished = true;
      clearInterval(watch);
      const req = current;
      if (req) lost(req, Atomics.load(flagsView, 1), (e as { code?: string }).code ?? 'worker-died', String(e));
      void startWorker().then(done);
    });
    send();
  });
}

const rss = setInterval(() => { peakRss = Math.max(peakRss, process.memoryUsage().rss); }, 250);
// The report is rewritten every minute, so that a run cut short still says how far it got.
const ticker = setInterval(() => {
  const r = writeReport(false);
  console.log(`${r.cases} cases, ${r.casesPerSecond}/s, ${defects.length} defects`);
}, 60_000);
process.on('SIGINT', () => { writeReport(false); process.exit(130); });
process.on('SIGTERM', () => { writeReport(false); process.exit(143); });
await Promise.all(Array.from({ length: workers }, startWorker));
clearInterval(rss);
clearInterval(ticker);
removeFuzzFolders();
const report = writeReport(true);
console.log(`${report.cases} cases in ${report.seconds} s (${report.casesPerSecond}/s), ${defects.length} defects, peak RSS ${report.peakRssMb} MB; report: ${out}`);
process.exitCode = defects.length ? 1 : 0;

function writeReport(finished: boolean) {
  const seconds = (performance.now() - t0) / 1000;
  for (const t of totals.values()) t.casesPerSecond = Math.round(t.cases / Math.max(1e-9, t.seconds));
  const cases = [...totals.values()].reduce((n, t) => n + t.cases, 0);
  const report = {
    command: `npm run fuzz -- ${process.argv.slice(2).join(' ')}`.trim(),
    date: new Date().toISOString(), finished,
    seed, workers, batchSize, deadlineMs, hangMs, heapLimitMb: heapMb,
    memoryBound: `per allocation: ${MEMORY_BASE} bytes + ${MEMORY_PER_INPUT_BYTE} x input bytes`,
    seconds: Math.round(seconds), cases, casesPerSecond: Math.round(cases / seconds),
    loadAverage: os.loadavg().map((x) => Math.round(x * 10) / 10), cpus: os.cpus().length,
    peakRssMb: Math.round(peakRss / 2 ** 20), peakWorkerHeapMb: Math.round(peakHeap / 2 ** 20),
    targets: Object.fromEntries(totals), defects,
  };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
  return report;
}
