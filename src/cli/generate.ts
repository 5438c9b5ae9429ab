import type { Kernels } from '../../reference/kernels.js';
import type { WasmKernels } from '../backends/wasm/kernels.js';
import type { ChatMessage } from '../chat/builtin-templates.js';
import type { GenerationTimings } from '../generate/generate.js';
import { formatAlternatives, tokenText, wantsColor } from '../explain/terminal.js';
import { peakResidentBytes } from '../io/peak-memory.js';
import { loadLlama } from '../llama.js';
import { MODEL_FLAGS, MODEL_HELP, SAMPLING_FLAGS, SAMPLING_HELP, loadOptions, samplingOptions } from './model-flags.js';
import { intFlag, parseCommand, stringFlag } from './options.js';

const help = `usage: llama-ts generate [--model FILE] [options]

Prints the prompt followed by the generated text on stdout, tokens per second on stderr.
With --chat, the prompt is a user's message and only the assistant's reply is printed.

${MODEL_HELP}  --prompt TEXT         text to continue (default: empty, start from BOS)
${SAMPLING_HELP}  --chat                the prompt is a user's message in the model's chat template (one turn)
  --system TEXT         with --chat: the system message
  --context-shift       with --chat: drop the oldest turns when the conversation outgrows the context
  --show-probs K        under each token, the K most likely tokens of its step with the model's
                        probabilities (softmax of the logits, before sampling reshapes them), the
                        chosen one marked with *; in colour on a terminal (NO_COLOR, FORCE_COLOR)
  --stats               timings on stderr, as llama.cpp prints them: load time, the prompt's and
                        the decoding's tokens and tok/s (forward passes only), peak resident memory
`;

export async function generateCommand(argv: string[]): Promise<number> {
  const args = parseCommand(argv, {
    ...MODEL_FLAGS,
    ...SAMPLING_FLAGS,
    prompt: { type: 'string' },
    chat: { type: 'boolean' },
    system: { type: 'string' },
    'context-shift': { type: 'boolean' },
    'show-probs': { type: 'string' },
    stats: { type: 'boolean' },
  }, help);
  if (!args) return 0;
  const v = args.values;
  const chat = v.chat === true;
  const system = stringFlag(v, 'system');
  if (!chat && (system !== undefined || v['context-shift'])) throw new Error('--system and --context-shift need --chat');
  const showProbs = intFlag(v, 'show-probs');
  if (showProbs !== undefined && showProbs < 1) throw new Error(`--show-probs expects a positive integer, got ${showProbs}`);
  if (showProbs !== undefined && chat) throw new Error('--show-probs is for generate without --chat');
  const loadStart = performance.now();
  const llama = await loadLlama(loadOptions(v));
  const loadSeconds = (performance.now() - loadStart) / 1000;
  for (const note of (llama.kernels as Partial<WasmKernels>).notes ?? []) process.stderr.write(`note: ${note}\n`);
  const prompt = stringFlag(v, 'prompt') ?? '';

  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  const options = { ...samplingOptions(v), signal: abort.signal, alternatives: showProbs };
  const messages: ChatMessage[] = [...(system === undefined ? [] : [{ role: 'system', content: system }]), { role: 'user', content: prompt }];
  const chunks = chat ? llama.chatChunks(messages, { ...options, contextShift: v['context-shift'] === true }) : llama.generateChunks(prompt, options);
  if (!chat) process.stdout.write(showProbs ? `${prompt}\n` : prompt);
  const start = performance.now();
  let tokens = 0;
  let timings: GenerationTimings | undefined;
  const color = wantsColor(process.stdout.isTTY, process.env);
  const piece = (t: number): string => tokenText(llama.tokenizer, t);
  for await (const chunk of chunks) {
    if (!chunk.done) tokens++;
    else timings = chunk.timings;
    if (showProbs && chunk.alternatives) process.stdout.write(formatAlternatives(chunk.token, chunk.alternatives, piece, color));
    else if (!showProbs) process.stdout.write(chunk.text);
  }
  if (!showProbs) process.stdout.write('\n');
  const seconds = (performance.now() - start) / 1000;
  process.stderr.write(`${tokens} tokens in ${seconds.toFixed(2)} s: ${(tokens / seconds).toFixed(1)} tok/s (${describeKernels(llama.kernels)})\n`);
  if (v.stats === true && timings) process.stderr.write(formatTimings(loadSeconds, timings, peakResidentBytes()));
  await llama.close();
  return 0;
}

// The --stats lines: what llama.cpp's timings say, in its order
export function formatTimings(loadSeconds: number, t: GenerationTimings, peakRssBytes: number): string {
  const rate = (n: number, s: number) => (n > 0 && s > 0 ? `, ${(n / s).toFixed(1)} tok/s` : '');
  const ms = (s: number) => `${(s * 1000).toFixed(1)} ms`;
  return [
    `load:   ${ms(loadSeconds)}`,
    `prompt: ${t.promptTokens} tokens in ${ms(t.promptSeconds)}${rate(t.promptTokens, t.promptSeconds)}`,
    `decode: ${t.decodeTokens} tokens in ${ms(t.decodeSeconds)}${rate(t.decodeTokens, t.decodeSeconds)}`,
    `memory: ${(peakRssBytes / 2 ** 20).toFixed(1)} MiB peak resident`,
  ].join('\n') + '\n';
}

// 'wasm, relaxed SIMD, 2 threads' or 'ts': what ran, for the stats line
function describeKernels(kernels: Kernels): string {
  const wasm = kernels as Partial<WasmKernels>;
  const adapter = (kernels as { adapterName?: string }).adapterName;
  if (adapter !== undefined) return `${kernels.name}, ${adapter}`;
  if (wasm.simd === undefined) return kernels.name;
  return `${kernels.name}, ${wasm.simd === 'relaxed' ? 'relaxed SIMD' : 'SIMD'}, ${wasm.threads} thread${wasm.threads === 1 ? '' : 's'}`;
}
