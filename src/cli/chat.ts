// llama-ts chat: a conversation in the terminal. Each line is a user's message; the reply
// streams as it is generated. The library keeps the KV cache between turns, so a turn
// evaluates only its new tokens (the stats line on stderr says how many).
import { createInterface, type Interface } from 'node:readline';
import type { WasmKernels } from '../backends/wasm/kernels.js';
import type { ChatMessage } from '../chat/builtin-templates.js';
import type { ChatOptions, ChatStats } from '../generate/chat.js';
import { loadLlama, type Llama } from '../llama.js';
import { MODEL_FLAGS, MODEL_HELP, SAMPLING_FLAGS, SAMPLING_HELP, loadOptions, samplingOptions } from './model-flags.js';
import { parseCommand, stringFlag } from './options.js';

const help = `usage: llama-ts chat [--model FILE] [options]

A conversation with the model in its chat template. Type a message and Enter; the reply
streams on stdout, and a stats line per turn on stderr. In the conversation:

  /reset                start over (the system message stays)
  /system TEXT          set the system message (the turns so far stay)
  /exit, Ctrl-D         end
  Ctrl-C                stop the reply being written (not the program)

${MODEL_HELP}${SAMPLING_HELP}  --system TEXT         the system message
  --context-shift       drop the oldest turns (not the system message) when the conversation
                        outgrows the context; without it, that is an error
`;

export async function chatCommand(argv: string[]): Promise<number> {
  const args = parseCommand(argv, { ...MODEL_FLAGS, ...SAMPLING_FLAGS, system: { type: 'string' }, 'context-shift': { type: 'boolean' } }, help);
  if (!args) return 0;
  const v = args.values;
  const llama = await loadLlama(loadOptions(v));
  for (const note of (llama.kernels as Partial<WasmKernels>).notes ?? []) process.stderr.write(`note: ${note}\n`);
  if (!llama.chatTemplate) {
    await llama.close();
    throw new Error(`${v.model ?? 'the model'} has no chat template: pick a built-in one with --chat-template llama-2|llama-3|chatml|zephyr`);
  }
  const conversation = new Conversation(llama, { ...samplingOptions(v), contextShift: v['context-shift'] === true }, stringFlag(v, 'system'));
  process.stderr.write(`chat template: ${llama.chatTemplate.source}; /reset, /system TEXT, /exit or Ctrl-D; Ctrl-C stops a reply\n`);
  try {
    await conversation.run();
  } finally {
    await llama.close();
  }
  return 0;
}

class Conversation {
  private messages: ChatMessage[] = [];
  private turn = 0;
  private replying: AbortController | undefined;
  private readonly rl: Interface;

  constructor(private readonly llama: Llama, private readonly options: ChatOptions, private system: string | undefined) {
    this.rl = createInterface({ input: process.stdin, output: process.stdout, terminal: process.stdin.isTTY === true, prompt: '> ' });
    this.reset();
  }

  async run(): Promise<void> {
    const interrupt = () => this.interrupt();
    this.rl.on('SIGINT', interrupt); // a terminal: readline sees Ctrl-C
    process.on('SIGINT', interrupt); // otherwise the signal
    try {
      this.rl.prompt();
      for await (const line of this.rl) {
        if (!(await this.command(line.trim()))) break;
        this.rl.prompt();
      }
    } finally {
      process.off('SIGINT', interrupt);
      this.rl.close();
    }
    process.stdout.write('\n');
  }

  // Handles one line; false ends the chat.
  private async command(line: string): Promise<boolean> {
    if (line === '/exit') return false;
    if (line === '/reset') {
      this.reset();
      process.stderr.write('(conversation reset)\n');
    } else if (line === '/system' || line.startsWith('/system ')) {
      this.system = line.slice('/system'.length).trim() || undefined;
      this.messages = [...this.systemMessage(), ...this.messages.filter((m) => m.role !== 'system')];
      process.stderr.write(this.system ? '(system message set)\n' : '(system message removed)\n');
    } else if (line !== '') {
      await this.reply(line);
    }
    return true;
  }

  private async reply(text: string): Promise<void> {
    this.messages.push({ role: 'user', content: text });
    this.replying = new AbortController();
    const start = performance.now();
    let reply = '';
    let stats: ChatStats | undefined;
    try {
      for await (const chunk of this.llama.chatChunks(this.messages, { ...this.options, signal: this.replying.signal })) {
        process.stdout.write(chunk.text);
        reply += chunk.text;
        if (chunk.done) stats = chunk.stats;
        await new Promise((resolve) => setImmediate(resolve)); // lets Ctrl-C in between two tokens
      }
    } catch (e) {
      this.messages.pop(); // the turn did not happen
      process.stderr.write(`error: ${(e as Error).message}\n`);
      return;
    } finally {
      this.replying = undefined;
    }
    process.stdout.write('\n');
    this.messages.push({ role: 'assistant', content: reply });
    this.turn++;
    if (stats) this.report(stats, (performance.now() - start) / 1000);
  }

  private report(s: ChatStats, seconds: number): void {
    if (s.droppedMessages > 0) this.messages = this.messages.filter((_, i) => !this.dropped(i, s.droppedMessages));
    const dropped = s.droppedMessages > 0 ? `, ${s.droppedMessages} oldest messages dropped` : '';
    process.stderr.write(`turn ${this.turn}: ${tokens(s.evaluated, 'new token')} evaluated, ${s.reused} reused${dropped}; ` +
      `${tokens(s.generated, 'token')} in ${seconds.toFixed(2)} s\n`);
  }

  // Whether message i was among the `count` oldest the context shift dropped (after the system message).
  private dropped(i: number, count: number): boolean {
    const first = this.messages[0]?.role === 'system' ? 1 : 0;
    return i >= first && i < first + count;
  }

  private interrupt(): void {
    if (this.replying) {
      this.replying.abort();
      return;
    }
    process.stdout.write('\n(Ctrl-D or /exit ends the chat)\n');
    this.rl.prompt();
  }

  private reset(): void {
    this.messages = this.systemMessage();
  }

  private systemMessage(): ChatMessage[] {
    return this.system === undefined ? [] : [{ role: 'system', content: this.system }];
  }
}

const tokens = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;
