import { writeFileAtomic } from '../io/atomic-file.js';
import { dumpForwardAsync, parseIdList } from '../conform/dump.js';
import { writeSafetensors } from '../formats/safetensors.js';
import { closeKernels, createKernels, parseBackend, readWholeModel } from '../llama.js';
import { intFlag, parseCommand, stringFlag } from './options.js';

const help = `usage: llama-ts dump --model FILE --tokens 1,2,3 [--targets 2,3,4] --out FILE.safetensors

Runs one forward pass and writes every intermediate tensor under golden/ names (see
golden/FORMAT.md): tokens, embedding, per layer attention_norm, q, k, v, attn, attn_out, h,
ffn_norm, ffn_out, out; norm, logits [T, vocab], decode_logits (one token at a time with the
KV cache) and, with --targets, the loss and every gradient. Compare it with a golden case:
llama-ts conform (without --targets: conform CASE DUMP --only forward,decode).

  --model FILE       GGUF, llama2.c checkpoint or Hugging Face folder
  --tokens IDS       comma-separated token ids
  --targets IDS      next-token targets, one per token (-1 = ignored)
  --out FILE         the safetensors file to write
  --backend NAME     wasm (default), ts or webgpu
  --threads N        wasm kernel threads (default: the number of CPUs)
`;

export async function dumpCommand(argv: string[]): Promise<number> {
  const args = parseCommand(argv, {
    model: { type: 'string' }, tokens: { type: 'string' }, targets: { type: 'string' }, out: { type: 'string' }, backend: { type: 'string' }, threads: { type: 'string' },
  }, help);
  if (!args) return 0;
  const v = args.values;
  const model = stringFlag(v, 'model');
  const tokens = stringFlag(v, 'tokens');
  const out = stringFlag(v, 'out');
  if (!model || !tokens || !out) throw new Error('dump needs --model, --tokens and --out (see llama-ts dump --help)');
  const targets = stringFlag(v, 'targets');
  const llamaModel = readWholeModel(model).model;
  const kernels = await createKernels(parseBackend(stringFlag(v, 'backend')), llamaModel, { threads: intFlag(v, 'threads') });
  const tensors = await dumpForwardAsync(llamaModel, kernels, parseIdList(tokens, '--tokens'), {
    targets: targets ? parseIdList(targets, '--targets') : undefined,
  });
  await closeKernels(kernels);
  writeFileAtomic(out, writeSafetensors(tensors, { producer: 'llama-ts dump' }));
  process.stderr.write(`wrote ${tensors.length} tensors to ${out}\n`);
  return 0;
}
