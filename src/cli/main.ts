// llama-ts command line: parses arguments and calls the library, nothing more.
import { chatCommand } from './chat.js';
import { conformCommand } from './conform.js';
import { convertCommand } from './convert.js';
import { dumpCommand } from './dump.js';
import { evalCommand } from './eval.js';
import { explainCommand } from './explain.js';
import { generateCommand } from './generate.js';
import { perplexityCommand } from './perplexity.js';
import { quantizeCommand } from './quantize.js';
import { tokenizeCommand } from './tokenize.js';
import { trainCommand } from './train.js';

const commands: Record<string, { summary: string; run(argv: string[]): Promise<number> }> = {
  generate: { summary: 'generate text from a prompt', run: generateCommand },
  chat: { summary: "a conversation in the model's chat template", run: chatCommand },
  tokenize: { summary: 'print the token ids of a text', run: tokenizeCommand },
  convert: { summary: 'convert between GGUF, llama2.c and Hugging Face, optionally quantizing', run: convertCommand },
  quantize: { summary: 'rewrite a model as GGUF with Q8_0, Q4_0 or F16 matrices', run: quantizeCommand },
  dump: { summary: 'write every intermediate tensor of a forward pass (golden names)', run: dumpCommand },
  conform: { summary: 'compare a dump with a golden case, tensor by tensor', run: conformCommand },
  train: { summary: 'train a LLaMA on text files (resumable checkpoints)', run: trainCommand },
  perplexity: { summary: "perplexity of a text (llama.cpp's chunks), KL divergence between two models", run: perplexityCommand },
  explain: { summary: 'one step of the model on a prompt, explained in a self-contained HTML report', run: explainCommand },
  eval: { summary: 'multiple-choice tasks scored by likelihood (lm-evaluation-harness rules)', run: evalCommand },
};

const usage = `llama-ts: LLaMA in TypeScript

usage: llama-ts <command> [options]    (llama-ts <command> --help for its options)

commands:
${Object.entries(commands).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`).join('\n')}
`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage);
    return name ? 0 : 1;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`llama-ts: unknown command "${name}"\n\n${usage}`);
    return 2;
  }
  return command.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`llama-ts: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
