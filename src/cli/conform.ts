import { conformDumpFile, conformSelf, conformSelfAsync, formatReport, reportJson, type ConformReport } from '../conform/conform.js';
import { findCase, readManifest } from '../conform/golden.js';
import { parseParts, PARTS } from '../conform/parts.js';
import { conformTokenizerFiles, formatTokenizerReport } from '../conform/tokenizer-conform.js';
import { closeKernels, createKernels, parseBackend } from '../llama.js';
import { intFlag, parseCommand, stringFlag, type Parsed } from './options.js';

const help = `usage: llama-ts conform GOLDEN_CASE DUMP [--only PARTS] [--json]
       llama-ts conform --tokenizer CASEFILE IDS.jsonl [--json]
       llama-ts conform --self [--backend wasm|ts|webgpu] [--json]

Compares a dump (a safetensors file with golden/ tensor names, e.g. from llama-ts dump or
from your own port; see golden/FORMAT.md) with a golden case, tensor by tensor in data-flow
order: max abs error, max relative error and the share of the tolerance used. Names the first
tensor out of tolerance and the first clearly above float32 noise. Every tensor of the case
must be in the dump, and no other: a port that implements only some parts says so with
--only. GOLDEN_CASE is a case name (e.g. mha-shared) or the path of a case folder.
--tokenizer compares a port's token ids (one JSON line per case) with a golden tokenizer case
file (golden/tokenizer/*.json). --self runs every golden case through llama-ts itself.

Exit status: 0 conforms, 1 does not, 2 the command or a file is wrong.

  --only PARTS       the parts the dump holds, comma-separated: ${PARTS.join(', ')}
                     (default: every part the case has; tokens are always required,
                     targets with loss, grad or adamw)
  --json             one JSON report per case on stdout, for machines; errors too
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
    only: { type: 'string' }, backend: { type: 'string' }, threads: { type: 'string' },
  }, help, true);
  if (!args) return EXIT_CONFORMS;
  if (args.values.self && args.values.tokenizer) throw new Error('conform takes --self or --tokenizer, not both');
  if (args.values.tokenizer) return conformTokenizer(args, json);
  const reports = args.values.self ? await conformEveryCase(args) : [conformOneDump(args)];
  for (const r of reports) {
    process.stdout.write(json ? reportJson(r) + '\n' : formatReport(r, !args.values.self || args.values.verbose === true));
  }
  return reports.every((r) => r.ok) ? EXIT_CONFORMS : EXIT_DIFFERS;
}

function conformOneDump(args: Parsed): ConformReport {
  if (args.positionals.length !== 2) throw new Error('conform takes GOLDEN_CASE and DUMP (see llama-ts conform --help)');
  const only = stringFlag(args.values, 'only');
  const { manifest, goldenCase } = findCase(args.positionals[0]);
  return conformDumpFile(manifest, goldenCase, args.positionals[1], { only: only === undefined ? undefined : parseParts(only) });
}

async function conformEveryCase(args: Parsed): Promise<ConformReport[]> {
  if (args.positionals.length) throw new Error('conform --self takes no GOLDEN_CASE or DUMP');
  if (args.values.only !== undefined) throw new Error('conform --self checks every part; --only is for a port\'s dump');
  const manifest = readManifest();
  const backend = parseBackend(stringFlag(args.values, 'backend'));
  if (backend === 'webgpu') {
    // The GPU holds each case's weights: kernels per case, the passes awaited.
    const reports: ConformReport[] = [];
    for (const c of manifest.cases) reports.push(await conformSelfAsync(manifest, c, (m) => createKernels('webgpu', m), closeKernels));
    return reports;
  }
  const kernels = await createKernels(backend, undefined, { threads: intFlag(args.values, 'threads') });
  try {
    return manifest.cases.map((c) => conformSelf(manifest, c, kernels));
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
