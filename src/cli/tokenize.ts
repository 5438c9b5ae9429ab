import { createInterface } from 'node:readline';
import { loadAnyTokenizer } from '../tokenizer/load.js';
import { parseCommand, stringFlag } from './options.js';

const help = `usage: llama-ts tokenize --tokenizer FILE [--bos] TEXT
       llama-ts tokenize --tokenizer FILE [--bos] --jsonl < strings.jsonl

Prints the token ids of TEXT separated by spaces. With --jsonl, reads one JSON string a line
from stdin and writes one JSON array of ids a line.

  --tokenizer FILE   .model, tokenizer.bin, tokenizer.json or GGUF (SentencePiece or byte-level BPE)
  --bos              begin with the BOS token
  --jsonl            bulk mode, stdin to stdout
`;

export async function tokenizeCommand(argv: string[]): Promise<number> {
  const args = parseCommand(argv, { tokenizer: { type: 'string' }, bos: { type: 'boolean' }, jsonl: { type: 'boolean' } }, help, true);
  if (!args) return 0;
  const path = stringFlag(args.values, 'tokenizer');
  if (!path) throw new Error('tokenize needs --tokenizer FILE (see llama-ts tokenize --help)');
  const tokenizer = loadAnyTokenizer(path);
  const bos = args.values.bos === true;

  if (args.values.jsonl) {
    if (args.positionals.length) throw new Error('tokenize --jsonl reads its strings from stdin; give no TEXT');
    let lineNo = 0;
    for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
      lineNo++;
      if (line.trim() === '') continue;
      let text: unknown;
      try {
        text = JSON.parse(line);
      } catch {
        throw new Error(`stdin line ${lineNo}: not valid JSON`);
      }
      if (typeof text !== 'string') throw new Error(`stdin line ${lineNo}: expected a JSON string`);
      process.stdout.write(JSON.stringify(tokenizer.encode(text, { bos })) + '\n');
    }
    return 0;
  }
  if (args.positionals.length !== 1) throw new Error('tokenize takes exactly one TEXT (quote it), or --jsonl');
  process.stdout.write(tokenizer.encode(args.positionals[0], { bos }).join(' ') + '\n');
  return 0;
}
