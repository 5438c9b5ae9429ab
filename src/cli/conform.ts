import { conformDumpFile, conformSelf, conformSelfAsync, formatReport, reportJson, type ConformReport } from '../conform/conform.js';
import { conformHtml } from '../conform/html.js';
import { writeTextAtomic } from '../io/atomic-file.js';
import { findCase, readManifest } from '../conform/golden.js';
import { conformQuantBlocks, decodeQuantBlocksSelf, QUANT_BLOCKS_CASE, readQuantBlocks } from '../conform/quant-golden.js';
import { parseSafetensors, tensorToFloat64 } from '../formats/safetensors.js';
import { readFileBytes } from '../io/read-file.js';
import { conformQuantizedSelf } from '../conform/quantized.js';
import { parseParts, PARTS } from '../conform/parts.js';
import { conformTokenizerFiles, formatTokenizerReport } from '../conform/tokenizer-conform.js';
import { closeKernels, createKernels, parseBackend } from '../llama.js';
import { intFlag, parseCommand, stringFlag, type Parsed } from './options.js';

const help = `usage: llama-ts conform GOLDEN_CASE DUMP [--only PARTS] [--json] [--html FILE]
       llama-ts conform --tokenizer CASEFILE IDS.jsonl [--json]
       llama-ts conform --self [--backend wasm|ts|webgpu] [--json]

Compares a dump (a safetensors file with golden/ tensor names, e.g. from llama-ts dump or
from your own port; see golden/FORMAT.md) with a golden case, tensor by tensor in data-flow
order: max abs error, max relative error and the share of the tolerance used. Names the first
tensor out of tolerance and the first clearly above float32 noise. Every tensor of the case
must be in the dump, and no other: a port that implements only some parts says so with
--only. GOLDEN_CASE is a case name (e.g. mha-shared) or the path of a case folder; with
quant-blocks, DUMP holds a block decoder's <TYPE>.values for golden/quant/blocks.safetensors.
--tokenizer compares a port's token ids (one JSON line per case) with a golden tokenizer case
file (golden/tokenizer/*.json). --self runs every golden case through llama-ts itself, its
block decoders through golden/quant/blocks.safetensors, then a Q4_K_M-stored model's forward
pass against the same model dequantized to float32.

Exit status: 0 conforms, 1 does not, 2 the command or a file is wrong.

  --only PARTS       the parts the dump holds, comma-separated: ${PARTS.join(', ')}
                     (default: every part the case has; tokens are always required,
                     targets with loss, grad or adamw)
  --json             one JSON report per case on stdout, for machines; errors too
  --html FILE        also write a self-contained HTML page drawing every tensor's error in
                     data-flow order through the layers, the first divergent one marked
  --verbose          with --self: every tensor, not only the failures
  --backend NAME     with --self: wasm (default), ts or webgpu
  --threads N        with --self: wasm kernel threads (default: the number of CPUs)
`;

const EXIT_CONFORMS = 0;
const EXIT_DIFFERS = 1;
const EXIT_WRONG_INPUT = 2;

export async function conformCommand(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  try {
    return await runConform(argv, json);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (json) process.stdout.write(reportJson({ ok: false, error: message, exit: EXIT_WRONG_INPUT }) + '\n');
    else process.stderr.write(`llama-ts conform: ${message}\n`);
    return EXIT_WRONG_INPUT;
  }
}

async function runConform(argv: string[], json: boolean): Promise<number> {
  const args = parseCommand(argv, {
    self: { type: 'boolean' }, tokenizer: { type: 'boolean' }, json: { type: 'boolean' }, verbose: { type: 'boolean' },
    only: { type: 'string' }, backend: { type: 'string' }, threads: { type: 'string' }, html: { type: 'string' },
  }, help, true);
  if (!args) return EXIT_CONFORMS;
  if (args.values.self && args.values.tokenizer) throw new Error('conform takes --self or --tokenizer, not both');
  const html = stringFlag(args.values, 'html');
  if (html !== undefined && (args.values.self || args.values.tokenizer)) throw new Error('--html is for one dump: conform GOLDEN_CASE DUMP --html FILE');
  if (args.values.tokenizer) return conformTokenizer(args, json);
  const reports = args.values.self ? await conformEveryCase(args) : [conformOneDump(args)];
  if (html !== undefined) writeTextAtomic(html, conformHtml(reports[0]));
  for (const r of reports) {
    process.stdout.write(json ? reportJson(r) + '\n' : formatReport(r, !args.values.self || args.values.verbose === true));
  }
  return reports.every((r) => r.ok) ? EXIT_CONFORMS : EXIT_DIFFERS;
}

function conformOneDump(args: Parsed): ConformReport {
  if (args.positionals.length !== 2) throw new Error('conform takes GOLDEN_CASE and DUMP (see llama-ts conform --help)');
  const only = stringFlag(args.values, 'only');
  if (args.positionals[0] === QUANT_BLOCKS_CASE) {
    if (only !== undefined) throw new Error(`--only is for model cases, not ${QUANT_BLOCKS_CASE}`);
    const path = args.positionals[1];
    const dump = parseSafetensors(readFileBytes(path), path);
    const decoded = new Map([...dump.tensors].map(([name, t]) => [name, tensorToFloat64(t)]));
    return conformQuantBlocks(readQuantBlocks(readManifest().root), decoded);
  }
  const { manifest, goldenCase } = findCase(args.positionals[0]);
  return conformDumpFile(manifest, goldenCase, args.positionals[1], { only: only === undefined ? undefined : parseParts(only) });
}

async function conformEveryCase(args: Parsed): Promise<ConformReport[]> {
  if (args.positionals.length) throw new Error('conform --self takes no GOLDEN_CASE or DUMP');
  if (args.values.only !== undefined) throw new Error('conform --self checks every part; --only is for a port\'s dump');
  const manifest = readManifest();
  const backend = parseBackend(stringFlag(args.values, 'backend'));
  if (backend === 'webgpu') {
    // The GPU holds each case's weights: kernels per case, the passes awaited. (The block
    // decoders and the Q4_K_M check below are the CPU backends' own; WebGPU reads F32, F16,
    // Q8_0 and Q4_0, which the q8_0-blocks and q4_0-blocks cases cover.)
    const reports: ConformReport[] = [];
    for (const c of manifest.cases) reports.push(await conformSelfAsync(manifest, c, (m) => createKernels('webgpu', m), closeKernels));
    return reports;
  }
  // f32 activations: the golden truth multiplies exact activations, and --self checks the maths
  // (block decode, f32 matmul); the 8-bit rounding of the default decode path is a deliberate
  // trade, off by far more than float32 noise (golden/FORMAT.md, activations_8bit).
  const kernels = await createKernels(backend, undefined, { threads: intFlag(args.values, 'threads'), activations: 'f32' });
  try {
    const blocks = readQuantBlocks(manifest.root);
    return [
      ...manifest.cases.map((c) => conformSelf(manifest, c, kernels)),
      conformQuantBlocks(blocks, decodeQuantBlocksSelf(blocks)),
      // a Q4_K_M-stored model against its float32 dequantization (src/conform/quantized.ts)
      conformQuantizedSelf(manifest, kernels),
    ];
  } finally {
    await closeKernels(kernels);
  }
}

function conformTokenizer(args: Parsed, json: boolean): number {
  if (args.positionals.length !== 2) throw new Error('conform --tokenizer takes CASEFILE and IDS.jsonl (see llama-ts conform --help)');
  const r = conformTokenizerFiles(args.positionals[0], args.positionals[1]);
  process.stdout.write(json ? reportJson(r) + '\n' : formatTokenizerReport(r));
  return r.ok ? EXIT_CONFORMS : EXIT_DIFFERS;
}
