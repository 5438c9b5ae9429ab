import { isMixture } from '../convert/mixtures.js';
import { QUANTIZE_TYPES, quantizeFile, type QuantizeType } from '../convert/quantize-file.js';
import { parseCommand, stringFlag } from './options.js';

const help = `usage: llama-ts quantize IN OUT --type TYPE [--tokenizer FILE]

Writes the model IN (GGUF or llama2.c) as the GGUF file OUT with its weight matrices stored
in one type, quantized as llama.cpp does (without an importance matrix): GGUF's blocks of
32 (q8_0, q4_0, q4_1, q5_0, q5_1, iq4_nl), the K-quants' blocks of 256 (q3_k, q4_k, q5_k),
or f16; or in one of llama.cpp's K-quant mixtures, each matrix in the type llama.cpp's
llama-quantize gives it (q2_k, q3_k_s, q3_k_m, q3_k_l, q4_k_s, q4_k_m, q5_k_s, q5_k_m, q6_k:
e.g. q4_k_m puts output.weight and, on about half the layers, attn_v and ffn_down in q6_k)
with llama.cpp's general.file_type. Unlike llama.cpp, q4_0 and q8_0 keep output.weight in
their own type. As in llama.cpp, a matrix whose rows are not whole blocks of 256 falls back from a
K-quant to a 32-value type (q2_k, q3_k: q4_0; q4_k: q5_0; q5_k: q5_1; q6_k: q8_0), and
rows not whole blocks of 32 to F16; norm gains stay F32.

  --type T           q8_0, q4_0, q4_1, q5_0, q5_1, iq4_nl, q3_k, q4_k, q5_k, f16 (one type);
                     q2_k, q3_k_s, q3_k_m, q3_k_l, q4_k_s, q4_k_m, q5_k_s, q5_k_m, q6_k (mixtures)
  --tokenizer FILE   vocabulary to write into OUT (.model, tokenizer.bin, tokenizer.json or
                     GGUF); default: the tokenizer.* metadata of a GGUF input. A llama2.c
                     input holds none: without --tokenizer, OUT has no vocabulary.
`;

export async function quantizeCommand(argv: string[]): Promise<number> {
  const args = parseCommand(argv, { type: { type: 'string' }, tokenizer: { type: 'string' } }, help, true);
  if (!args) return 0;
  if (args.positionals.length !== 2) throw new Error('quantize needs IN and OUT (see llama-ts quantize --help)');
  const type = stringFlag(args.values, 'type');
  if (!type) throw new Error(`quantize needs --type (${QUANTIZE_TYPES.join(', ')})`);
  if (!(QUANTIZE_TYPES as readonly string[]).includes(type)) {
    throw new Error(`--type expects one of ${QUANTIZE_TYPES.join(', ')}, got "${type}"`);
  }
  const [input, output] = args.positionals;
  const result = quantizeFile(input, output, { type: type as QuantizeType, tokenizer: stringFlag(args.values, 'tokenizer') });
  for (const note of result.notes) process.stderr.write(`note: ${note}\n`);
  const fallback = result.fallback.length ? `${result.fallback.length} in a 32-value fallback type (rows not whole blocks of 256), ` : '';
  const as = isMixture(type) ? `as the ${type} mixture asks` : `as ${type}`;
  process.stderr.write(`wrote ${output}: ${result.quantized.length} matrices ${as}, ${fallback}${result.f16.length} as f16 (rows not whole blocks), ${result.bytes} bytes\n`);
  return 0;
}
