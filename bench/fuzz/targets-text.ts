// Targets that take text from users: prompts to tokenize and to generate from, evaluation
// task files (JSON Lines) and chat templates (Jinja) with the messages rendered through them.
import fc from 'fast-check';
import { createKVCache } from '../../reference/model.js';
import { tsKernels } from '../../reference/ts-kernels.js';
import type { LlamaModel } from '../../reference/weights.js';
import { jinjaChatTemplate } from '../../src/chat/chat-template.js';
import type { ChatMessage } from '../../src/chat/builtin-templates.js';
import { parseTask } from '../../src/eval/tasks.js';
import { loadModelFromBytes } from '../../src/formats/load-bytes.js';
import { generateChunks } from '../../src/generate/generate.js';
import { anyTokenizerFromBytes, type AnyTokenizer } from '../../src/tokenizer/any-tokenizer.js';
import { ByteLevelBpeTokenizer } from '../../src/tokenizer/byte-level-bpe.js';
import { applyJson, buildText, jsonEdits, textPieces, type JsonEdit, type TextPiece } from './mutate.js';
import * as seeds from './seeds.js';
import { check, jsonCodec, pick, type Target } from './target.js';

const once = <T>(f: () => T): (() => T) => {
  let v: T | undefined;
  return () => (v ??= f());
};

// The tokenizers prompts go through: SentencePiece from .model and from tokenizer.bin, and
// byte-level BPE (the llama.cpp kinds llama-ts reads).
const tokenizers = once((): [string, AnyTokenizer][] => [
  ['tok512.model', anyTokenizerFromBytes(seeds.tok512Model(), 'tok512.model')],
  ['tok512.bin', anyTokenizerFromBytes(seeds.tok512Bin(), 'tok512.bin')],
  ['byte-level', new ByteLevelBpeTokenizer(seeds.byteLevelVocab(), 'byte-level')],
]);

const hasLoneSurrogate = (s: string): boolean => /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);

interface PromptInput { tokenizer: number; text: string; special: boolean }

// Encoding gives ids in the vocabulary; decoding gives a string; streaming decode gives the
// same text as decode; and byte-level BPE, which loses nothing, gives the text back exactly.
function tokenize(input: PromptInput): void {
  const [name, t] = pick(tokenizers(), input.tokenizer);
  const ids = t instanceof ByteLevelBpeTokenizer ? t.encode(input.text, { bos: false, special: input.special }) : t.encode(input.text, { bos: false });
  for (const id of ids) check(Number.isInteger(id) && id >= 0 && id < t.vocabSize, `${name}: id ${id} outside the vocabulary`);
  const text = t.decode(ids);
  const stream = t.createStreamDecoder();
  const streamed = ids.map((id) => stream.push(id)).join('') + stream.flush();
  check(streamed === text, `${name}: streamed decode ${JSON.stringify(streamed.slice(0, 80))} differs from decode ${JSON.stringify(text.slice(0, 80))}`);
  if (t instanceof ByteLevelBpeTokenizer && !input.special && !hasLoneSurrogate(input.text)) {
    check(text === input.text, `${name}: round trip ${JSON.stringify(input.text.slice(0, 80))} -> ${JSON.stringify(text.slice(0, 80))}`);
  }
}

// stories260K (the real llama2.c file) with its 512-token vocabulary, on the TypeScript
// kernels, with a KV cache of 32 positions: a longer prompt must be refused, not overflow it.
const storyModel = once((): { model: LlamaModel; tokenizer: AnyTokenizer } => ({
  model: loadModelFromBytes(seeds.stories260KBin(), 'stories260K.bin').model,
  tokenizer: anyTokenizerFromBytes(seeds.tok512Bin(), 'tok512.bin'),
}));
const CONTEXT = 32;

// The long prompts' length in characters: 1 MB in a campaign; the CI slice sets less.
export const LONG_PROMPT = { chars: 1 << 20 };

interface GenerateInput { text: string; maxTokens: number; bos: boolean; temperature: number; topP: number; stop: string[] }

async function generateFrom(input: GenerateInput): Promise<void> {
  const { model, tokenizer } = storyModel();
  const cache = createKVCache(model.config, CONTEXT, tsKernels);
  let tokens = 0;
  for await (const chunk of generateChunks({ model, tokenizer, kernels: tsKernels, cache }, input.text, input)) {
    check(typeof chunk.text === 'string', 'chunk text');
    if (!chunk.done) {
      tokens++;
      check(chunk.token >= 0 && chunk.token < model.config.vocabSize, `token ${chunk.token}`);
    }
  }
  check(tokens <= input.maxTokens, `${tokens} tokens, asked for ${input.maxTokens}`);
}

interface TaskInput { text: string }
interface TemplateInput { template: string; messages: ChatMessage[]; generationPrompt: boolean }

const ROLES = ['user', 'assistant', 'system', 'tool', '', 'ipython', '__proto__'];

export const textTargets: Target<never, never>[] = [
  // Prompts up to 4 KB; the long ones (up to 1 MB, a few seconds each) are a target of their
  // own with a small share, so that they are tried without taking most of a run.
  {
    name: 'tokenize', weight: 12, names: [''], extension: 'json', ...jsonCodec,
    recipe: () => fc.record({ tokenizer: fc.nat(2), pieces: textPieces(8, 4096), special: fc.boolean() }),
    build: (r: { tokenizer: number; pieces: TextPiece[]; special: boolean }): PromptInput => ({ tokenizer: r.tokenizer, text: buildText(r.pieces, 4096), special: r.special }),
    run: tokenize,
  },
  {
    name: 'tokenize-long', weight: 0.03, names: [''], extension: 'json', ...jsonCodec,
    recipe: () => fc.record({ tokenizer: fc.nat(2), pieces: textPieces(3, 4096), long: fc.record({ kind: fc.constant('repeat' as const), text: fc.string({ unit: 'binary', minLength: 1, maxLength: 8 }), times: fc.constant(0) }), special: fc.boolean() }),
    build: (r: { tokenizer: number; pieces: TextPiece[]; long: TextPiece; special: boolean }): PromptInput => ({ tokenizer: r.tokenizer, text: buildText([...r.pieces, { ...r.long, times: LONG_PROMPT.chars } as TextPiece], LONG_PROMPT.chars), special: r.special }),
    run: tokenize,
  },
  {
    name: 'generate', weight: 0.1, names: [''], extension: 'json', ...jsonCodec, deadlineMs: 20_000, // up to 32 tokens through the TypeScript kernels: 0.6 s on a busy core, seen 3.4 s at load 16
    recipe: () => fc.record({
      pieces: textPieces(4, 4096), maxTokens: fc.integer({ min: 0, max: 3 }), bos: fc.boolean(),
      temperature: fc.constantFrom(0, 0.5, 1, 1e-9, 1e9), topP: fc.constantFrom(0, 0.5, 0.9, 1), stop: fc.array(fc.string({ maxLength: 3 }), { maxLength: 2 }),
    }),
    build: (r: { pieces: TextPiece[] } & Omit<GenerateInput, 'text'>): GenerateInput => ({ ...r, pieces: undefined, text: buildText(r.pieces, 4096) } as GenerateInput),
    run: generateFrom,
  },
  {
    name: 'eval-jsonl', weight: 8, names: ['task.jsonl'], extension: 'json', ...jsonCodec,
    recipe: () => fc.record({ shape: fc.nat(20), lines: fc.array(fc.tuple(fc.boolean(), jsonEdits(2)), { minLength: 1, maxLength: 4 }), extra: textPieces(2, 1000) }),
    build: (r: { shape: number; lines: [boolean, JsonEdit[]][]; extra: TextPiece[] }): TaskInput => {
      const item = pick(seeds.TASK_ITEMS, r.shape);
      const lines = r.lines.map(([touch, edits]) => (touch ? applyJson(item, edits) : JSON.stringify(item)));
      return { text: lines.join('\n') + buildText(r.extra, 1000) };
    },
    run: (input: TaskInput) => {
      const task = parseTask(input.text, 'task.jsonl', 'task');
      for (const item of task.items) {
        check(item.requests.length >= 2, `line ${item.line}: ${item.requests.length} choices`);
        check(Number.isInteger(item.gold) && item.gold >= 0 && item.gold < item.requests.length, `line ${item.line}: gold ${item.gold}`);
        for (const q of item.requests) check(typeof q.context === 'string' && typeof q.continuation === 'string', 'request texts');
      }
    },
  },
  {
    name: 'chat-template', weight: 6, names: ['template.jinja'], extension: 'json', ...jsonCodec,
    recipe: () => fc.record({
      template: fc.nat(10), cuts: fc.array(fc.tuple(fc.nat(100_000), fc.nat(40), textPieces(2, 64)), { maxLength: 3 }),
      messages: fc.array(fc.record({ role: fc.nat(ROLES.length - 1), content: textPieces(3, 2000) }), { maxLength: 4 }), generationPrompt: fc.boolean(),
    }),
    build: (r: { template: number; cuts: [number, number, TextPiece[]][]; messages: { role: number; content: TextPiece[] }[]; generationPrompt: boolean }): TemplateInput => {
      let template = pick(seeds.TEMPLATES, r.template);
      for (const [at, len, pieces] of r.cuts) {
        const i = at % (template.length + 1);
        template = template.slice(0, i) + buildText(pieces, 64) + template.slice(i + len);
      }
      return { template, messages: r.messages.map((m) => ({ role: ROLES[m.role], content: buildText(m.content, 2000) })), generationPrompt: r.generationPrompt };
    },
    run: (input: TemplateInput) => {
      const t = jinjaChatTemplate(input.template, 'template.jinja', { bosToken: '<s>', eosToken: '</s>' });
      check(typeof t.render(input.messages, input.generationPrompt) === 'string', 'render gives a string');
    },
  },
] as never;
