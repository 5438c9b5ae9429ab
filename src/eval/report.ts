// Text reports of the evaluations, in llama.cpp's wording where it has one.
import type { ChunkProgress, PerplexityResult } from './perplexity.js';
import type { KlDivergenceResult, ValueWithError } from './kl-divergence.js';
import type { TaskResult } from './multiple-choice.js';

// One line of a progress bar: `[=====>    ] 3/10 chunks  PPL 12.3456  0:07 left`.
export function formatProgress(p: ChunkProgress, width = 30): string {
  const done = Math.round((p.chunk / p.chunks) * width);
  const bar = '='.repeat(Math.max(0, done - 1)) + (done ? (p.chunk === p.chunks ? '=' : '>') : '') + ' '.repeat(width - done);
  return `[${bar}] ${p.chunk}/${p.chunks} chunks  PPL ${p.perplexity.toFixed(4)}  ${formatDuration(p.secondsLeft)} left`;
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = h ? String(m).padStart(2, '0') : String(m);
  return `${h ? h + ':' : ''}${mm}:${String(r).padStart(2, '0')}`;
}

export function formatPerplexity(r: PerplexityResult): string {
  return [
    `perplexity of ${r.model}: ${r.tokens} tokens, ${r.chunks} chunks of ${r.context} (the last ${r.context - 1 - Math.floor(r.context / 2)} of each scored), ${r.scored} scored`,
    r.running.map((ppl, i) => `[${i + 1}]${ppl.toFixed(4)}`).join(','),
    `Final estimate: PPL = ${r.perplexity.toFixed(4)} +/- ${r.uncertainty.toFixed(5)}`,
    `${r.seconds.toFixed(2)} s, ${r.tokensPerSecond.toFixed(1)} tokens/s`,
  ].join('\n') + '\n';
}

const pm = (x: ValueWithError, digits = 6) => `${x.value.toFixed(digits).padStart(10)} ± ${x.error.toFixed(digits).padStart(10)}`;
const pct = (x: number) => `${(100 * x).toFixed(3)}%`;

export function formatKlDivergence(r: KlDivergenceResult): string {
  const k = r.klPercentiles;
  return [
    `KL divergence of ${r.model} from ${r.baseModel}: ${r.chunks} chunks of ${r.context}, ${r.scored} tokens scored`,
    '====== Perplexity statistics ======',
    `Mean PPL(Q)                   : ${pm(r.pplQ)}`,
    `Mean PPL(base)                : ${pm(r.pplBase)}`,
    `Cor(ln(PPL(Q)), ln(PPL(base))): ${(100 * r.lnPplCorrelation).toFixed(2)}%`,
    `Mean ln(PPL(Q)/PPL(base))     : ${pm(r.lnPplRatio)}`,
    `Mean PPL(Q)/PPL(base)         : ${pm(r.pplRatio)}`,
    '',
    '====== KL divergence statistics ======',
    `Mean    KLD: ${pm(r.kl)}`,
    `Maximum KLD: ${k.max.toFixed(6).padStart(10)}`,
    `99.9%   KLD: ${k.p99_9.toFixed(6).padStart(10)}`,
    `99.0%   KLD: ${k.p99.toFixed(6).padStart(10)}`,
    `95.0%   KLD: ${k.p95.toFixed(6).padStart(10)}`,
    `90.0%   KLD: ${k.p90.toFixed(6).padStart(10)}`,
    `Median  KLD: ${k.median.toFixed(6).padStart(10)}`,
    `10.0%   KLD: ${k.p10.toFixed(6).padStart(10)}`,
    ` 5.0%   KLD: ${k.p5.toFixed(6).padStart(10)}`,
    ` 1.0%   KLD: ${k.p1.toFixed(6).padStart(10)}`,
    `Minimum KLD: ${k.min.toFixed(6).padStart(10)}`,
    '',
    '====== Token probability statistics ======',
    `RMS Δp    : ${pct(r.rmsDeltaP)}`,
    `Same top p: ${pct(r.sameTop.value)} ± ${pct(r.sameTop.error)}`,
  ].join('\n') + '\n';
}

const metricText = (m: { value: number; stderr: number } | undefined) => (m ? `${m.value.toFixed(4)} ± ${m.stderr.toFixed(4)}` : '-');

export function formatEval(results: TaskResult[], model: string): string {
  const paper = results.some((r) => r.acc_paper);
  const head = ['task', 'shape', 'items', 'shots', 'acc', 'acc_norm', 'acc_bytes', ...(paper ? ['acc_paper'] : []), 'chance'];
  const rows = results.map((r) => [
    r.task, r.shape, String(r.items), String(r.shots), metricText(r.acc), metricText(r.acc_norm), metricText(r.acc_bytes),
    ...(paper ? [metricText(r.acc_paper)] : []), r.chance.toFixed(4),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  const notes = results.flatMap((r) => [
    ...(r.cut ? [`${r.task}: ${r.cut} item${r.cut === 1 ? '' : 's'} had their context cut from the left to fit the model's context`] : []),
    `${r.task}: ${r.tokensRun} tokens through the model (${r.tokensFromScratch} with every choice from position 0), ${r.seconds.toFixed(2)} s`,
  ]);
  return [`eval of ${model}`, line(head), ...rows.map(line), ...notes].join('\n') + '\n';
}
