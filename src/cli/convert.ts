import { convertModel, OUTPUT_TYPES, type OutputFormat, type OutputType } from '../convert/convert.js';
import { parseCommand, stringFlag } from './options.js';

const help = `usage: llama-ts convert IN OUT [options]

Converts a model between formats. IN is a GGUF file, a llama2.c .bin, or a Hugging Face
folder (config.json + safetensors). The output format follows OUT: .gguf, .bin (llama2.c),
or a folder (Hugging Face); --to overrides it.

  --type T              f32 (default), f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, iq4_nl,
                        q3_k, q4_k, q5_k (every matrix in that type); llama.cpp's
                        mixtures q2_k, q3_k_s, q3_k_m, q3_k_l, q4_k_s, q4_k_m, q5_k_s,
                        q5_k_m, q6_k (its per-tensor types, as quantize)
                        gguf: all but bf16   hf: f32 f16 bf16   llama2c: f32
  --tokenizer FILE      vocabulary to use (.model, tokenizer.json, tokenizer.bin or GGUF);
                        default: the one in IN (GGUF metadata, HF tokenizer.model/json)
  --to FORMAT           gguf, llama2c or hf
  --llama2c-version V   0 (default, what run.c reads) or 1
`;

const FORMATS: OutputFormat[] = ['gguf', 'llama2c', 'hf'];
const TYPES: OutputType[] = [
  'f32', 'f16', 'bf16', 'q8_0', 'q4_0', 'q4_1', 'q5_0', 'q5_1', 'iq4_nl', 'q2_k', 'q3_k', 'q4_k', 'q5_k', 'q6_k',
  'q3_k_s', 'q3_k_m', 'q3_k_l', 'q4_k_s', 'q4_k_m', 'q5_k_s', 'q5_k_m',
];

export async function convertCommand(argv: string[]): Promise<number> {
  const args = parseCommand(argv, {
    type: { type: 'string' },
    tokenizer: { type: 'string' },
    to: { type: 'string' },
    'llama2c-version': { type: 'string' },
  }, help, true);
  if (!args) return 0;
  const v = args.values;
  if (args.positionals.length !== 2) throw new Error('convert needs IN and OUT (see llama-ts convert --help)');
  const [input, output] = args.positionals;
  const to = oneOf(stringFlag(v, 'to'), FORMATS, 'to');
  const type = oneOf(stringFlag(v, 'type'), TYPES, 'type');
  const version = oneOf(stringFlag(v, 'llama2c-version'), ['0', '1'], 'llama2c-version');
  const result = convertModel(input, output, {
    to, type, tokenizer: stringFlag(v, 'tokenizer'), llama2cVersion: version === undefined ? undefined : (Number(version) as 0 | 1),
  });
  for (const note of result.notes) process.stderr.write(`note: ${note}\n`);
  process.stderr.write(`wrote ${result.format} (${result.type}, types allowed: ${OUTPUT_TYPES[result.format].join(', ')}): ${result.files.join(', ')}\n`);
  return 0;
}

function oneOf<T extends string>(value: string | undefined, allowed: readonly T[], flag: string): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) throw new Error(`--${flag} expects one of ${allowed.join(', ')}, got "${value}"`);
  return value as T;
}
