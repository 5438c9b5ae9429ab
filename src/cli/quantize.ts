import { QUANTIZE_TYPES, quantizeFile, type QuantizeType } from '../convert/quantize-file.js';
import { parseCommand, stringFlag } from './options.js';

const help = `usage: llama-ts quantize IN OUT --type q8_0|q4_0|f16 [--tokenizer FILE]

Writes the model IN (GGUF or llama2.c) as the GGUF file OUT with its weight matrices stored
as Q8_0, Q4_0 or F16 (GGUF's blocks of 32, quantized as llama.cpp does). Matrices whose rows
are not whole blocks of 32 are stored as F16 (as convert does); norm gains stay F32.

  --type T           q8_0, q4_0 or f16
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
  process.stderr.write(`wrote ${output}: ${result.quantized.length} matrices as ${type}, ${result.f16.length} as f16 (rows not whole blocks), ${result.bytes} bytes\n`);
  return 0;
}
