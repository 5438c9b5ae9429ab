import { conformDumpFile, conformSelf, formatReport, type ConformReport } from '../conform/conform.js';
import { findCase, readManifest } from '../conform/golden.js';
import { closeKernels, createKernels, parseBackend } from '../llama.js';
import { intFlag, parseCommand, stringFlag } from './options.js';

const help = `usage: llama-ts conform GOLDEN_CASE DUMP [--json]
       llama-ts conform --self [--backend wasm|ts] [--json]

Compares a dump (a safetensors file with golden/ tensor names, e.g. from llama-ts dump or
from your own port; see golden/FORMAT.md) with a golden case, tensor by tensor in data-flow
order: max abs error, max relative error and the share of the tolerance used. Names the first
tensor out of tolerance; exits 1 if any is. GOLDEN_CASE is a case name (e.g. mha-shared) or
the path of a case folder. --self runs every golden case through llama-ts itself.

  --json             one JSON report per case on stdout, for machines
  --verbose          with --self: every tensor, not only the failures
  --backend NAME     with --self: wasm (default) or ts
  --threads N        with --self: wasm kernel threads (default: the number of CPUs)
`;

export async function conformCommand(argv: string[]): Promise<number> {
  const args = parseCommand(argv, { self: { type: 'boolean' }, json: { type: 'boolean' }, verbose: { type: 'boolean' }, backend: { type: 'string' }, threads: { type: 'string' } }, help, true);
  if (!args) return 0;
  const json = args.values.json === true;
  const reports: ConformReport[] = [];
  if (args.values.self) {
    if (args.positionals.length) throw new Error('conform --self takes no GOLDEN_CASE or DUMP');
    const manifest = readManifest();
    const kernels = await createKernels(parseBackend(stringFlag(args.values, 'backend')), undefined, { threads: intFlag(args.values, 'threads') });
    try {
      for (const c of manifest.cases) reports.push(conformSelf(manifest, c, kernels));
    } finally {
      await closeKernels(kernels);
    }
  } else {
    if (args.positionals.length !== 2) throw new Error('conform takes GOLDEN_CASE and DUMP (see llama-ts conform --help)');
    const { manifest, goldenCase } = findCase(args.positionals[0]);
    reports.push(conformDumpFile(manifest, goldenCase, args.positionals[1]));
  }
  for (const r of reports) {
    process.stdout.write(json ? JSON.stringify(r) + '\n' : formatReport(r, !args.values.self || args.values.verbose === true));
  }
  return reports.every((r) => r.ok) ? 0 : 1;
}
