// Chat templates (src/chat): the built-in ones against the families' official Jinja
// templates rendered by @huggingface/jinja, their exact strings for multi-turn
// conversations with a system message, a model's own template found in its files, errors
// that name the template, and the rendered text tokenized as llama.cpp tokenizes it
// (node-llama-cpp, parse_special): <s> and <|eot_id|> become their ids, one BOS.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getLlama, LlamaLogLevel, type Llama, type LlamaModel } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  BUILTIN_TEMPLATE_NAMES, builtinChatTemplate, encodeChat, findModelChatTemplate, jinjaChatTemplate, specialTokenTexts, type ChatMessage,
} from '../src/chat/index.js';
import { fitConversation } from '../src/chat/fit-conversation.js';
import { readFileBytes } from '../src/io/read-file.js';
import { anyTokenizerFromBytes } from '../src/tokenizer/any-tokenizer.js';
import { ByteLevelBpeTokenizer } from '../src/tokenizer/byte-level-bpe.js';
import { byteLevelVocabularyFromGGUF } from '../src/tokenizer/gguf-byte-level.js';
import { parseGGUF } from '../src/formats/gguf.js';
import { llamaCppVocabCases, removeLlamaCppClone } from './llamacpp-source.js';

// The official templates, as their tokenizer_config.json files hold them.
const OFFICIAL = {
  // meta-llama/Llama-2-7b-chat-hf
  'llama-2': "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}",
  // meta-llama/Meta-Llama-3-8B-Instruct
  'llama-3': "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}",
  // ChatML, as e.g. teknium/OpenHermes-2.5-Mistral-7B writes it
  chatml: "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}",
  // HuggingFaceH4/zephyr-7b-beta
  zephyr: "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}",
};

const SPM_TOKENS = { bosToken: '<s>', eosToken: '</s>' };
const LLAMA3_TOKENS = { bosToken: '<|begin_of_text|>', eosToken: '<|end_of_text|>' };

const system: ChatMessage = { role: 'system', content: 'You are a helpful assistant.' };
const CONVERSATION: ChatMessage[] = [
  system,
  { role: 'user', content: 'Hello!' },
  { role: 'assistant', content: ' Hi there. ' },
  { role: 'user', content: 'What is 2 + 2?\n' },
];
const CONVERSATIONS: ChatMessage[][] = [
  CONVERSATION,
  CONVERSATION.slice(0, 2),
  CONVERSATION.slice(1),
  CONVERSATION.slice(0, 3),
  [...CONVERSATION, { role: 'assistant', content: '4' }],
  [{ role: 'user', content: '  spaced  ' }],
];

describe('the built-in templates render what the official ones render', () => {
  test.each(BUILTIN_TEMPLATE_NAMES.flatMap((name) => [[name, SPM_TOKENS], [name, LLAMA3_TOKENS]] as const))('%s with BOS %j', (name, tokens) => {
    const ours = builtinChatTemplate(name, tokens);
    const official = jinjaChatTemplate(OFFICIAL[name], `official ${name}`, tokens);
    for (const messages of CONVERSATIONS) {
      for (const generationPrompt of [true, false]) {
        expect(ours.render(messages, generationPrompt)).toBe(official.render(messages, generationPrompt));
      }
    }
  });

  test('llama-2, multi-turn with a system message', () => {
    expect(builtinChatTemplate('llama-2', SPM_TOKENS).render(CONVERSATION, true)).toBe(
      '<s>[INST] <<SYS>>\nYou are a helpful assistant.\n<</SYS>>\n\nHello! [/INST] Hi there. </s><s>[INST] What is 2 + 2? [/INST]',
    );
  });

  test('llama-3, multi-turn with a system message', () => {
    expect(builtinChatTemplate('llama-3', LLAMA3_TOKENS).render(CONVERSATION, true)).toBe(
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant.<|eot_id|>' +
      '<|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|>' +
      '<|start_header_id|>assistant<|end_header_id|>\n\nHi there.<|eot_id|>' +
      '<|start_header_id|>user<|end_header_id|>\n\nWhat is 2 + 2?<|eot_id|>' +
      '<|start_header_id|>assistant<|end_header_id|>\n\n',
    );
  });

  test('chatml, multi-turn with a system message', () => {
    expect(builtinChatTemplate('chatml', SPM_TOKENS).render(CONVERSATION, true)).toBe(
      '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHello!<|im_end|>\n' +
      '<|im_start|>assistant\n Hi there. <|im_end|>\n<|im_start|>user\nWhat is 2 + 2?\n<|im_end|>\n<|im_start|>assistant\n',
    );
  });

  test('zephyr, multi-turn with a system message', () => {
    expect(builtinChatTemplate('zephyr', SPM_TOKENS).render(CONVERSATION, true)).toBe(
      '<|system|>\nYou are a helpful assistant.</s>\n<|user|>\nHello!</s>\n<|assistant|>\n Hi there. </s>\n<|user|>\nWhat is 2 + 2?\n</s>\n<|assistant|>\n',
    );
  });

  test('each ends a turn where the family does (a stop string)', () => {
    expect(builtinChatTemplate('llama-2', SPM_TOKENS).stops).toEqual(['</s>']);
    expect(builtinChatTemplate('llama-3', LLAMA3_TOKENS).stops).toEqual(['<|eot_id|>']);
    expect(builtinChatTemplate('chatml', SPM_TOKENS).stops).toEqual(['<|im_end|>']);
    expect(builtinChatTemplate('zephyr', SPM_TOKENS).stops).toEqual(['</s>']);
    expect(jinjaChatTemplate(OFFICIAL['llama-3'], 'x', LLAMA3_TOKENS).stops).toEqual(['<|eot_id|>']);
    expect(jinjaChatTemplate(OFFICIAL.chatml, 'x', SPM_TOKENS).stops).toEqual(['<|im_end|>']);
  });
});

describe('templates that fail', () => {
  test("raise_exception in a template: an Error with the template's message and where it came from", () => {
    const t = jinjaChatTemplate(OFFICIAL['llama-2'], 'model.gguf: tokenizer.chat_template', SPM_TOKENS);
    const twoUsers = [{ role: 'user', content: 'a' }, { role: 'user', content: 'b' }];
    expect(() => t.render(twoUsers, true)).toThrow('chat template (model.gguf: tokenizer.chat_template) failed: Conversation roles must alternate user/assistant/user/assistant/...');
    expect(() => builtinChatTemplate('llama-2', SPM_TOKENS).render(twoUsers, true)).toThrow('chat template (built-in llama-2) failed: Conversation roles must alternate');
  });

  test('a syntax error is an Error when the template is read, naming it', () => {
    expect(() => jinjaChatTemplate('{% for m in messages %}{{ m.content + }}{% endfor %}', 'dir/tokenizer_config.json: chat_template', SPM_TOKENS))
      .toThrow('chat template (dir/tokenizer_config.json: chat_template) failed: Unexpected token: CloseExpression');
  });
});

describe("a model's own template", () => {
  const config = (value: unknown) => new TextEncoder().encode(JSON.stringify({ chat_template: value }));
  test("GGUF's tokenizer.chat_template", () => {
    expect(findModelChatTemplate({ name: 'm.gguf', gguf: { 'tokenizer.chat_template': 'T' } })).toEqual({ text: 'T', source: 'm.gguf: tokenizer.chat_template' });
    expect(findModelChatTemplate({ name: 'm.gguf', gguf: {} })).toBeUndefined();
  });

  test("tokenizer_config.json's chat_template beside a Hugging Face folder: a string, or the list's default", () => {
    const hf = (bytes?: Uint8Array) => ({ name: 'dir', huggingFace: { dir: 'dir/', tokenizerConfig: bytes } });
    expect(findModelChatTemplate(hf(config('T')))).toEqual({ text: 'T', source: 'dir/tokenizer_config.json: chat_template' });
    expect(findModelChatTemplate(hf(config([{ name: 'tool_use', template: 'U' }, { name: 'default', template: 'D' }])))?.text).toBe('D');
    expect(findModelChatTemplate(hf(new TextEncoder().encode('{}')))).toBeUndefined();
    expect(findModelChatTemplate(hf())).toBeUndefined();
    expect(() => findModelChatTemplate(hf(new TextEncoder().encode('{')))).toThrow(/^dir\/tokenizer_config\.json: not valid JSON/);
  });
});

describe('the rendered text tokenized as llama.cpp does (parse_special), one BOS', () => {
  let llama: Llama;
  let dir: string;
  const models: Record<string, LlamaModel> = {};
  const spmFile = '../shared/data/llamacpp-vocab/ggml-vocab-llama-spm.gguf';
  const spm = anyTokenizerFromBytes(readFileBytes(spmFile), spmFile);
  const bpeGGUF = llamaCppVocabCases('llama-bpe').gguf;
  const bpe = new ByteLevelBpeTokenizer(byteLevelVocabularyFromGGUF(parseGGUF(bpeGGUF, 'llama-bpe').metadata, 'llama-bpe'), 'llama-bpe');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'chat-tokens-'));
    writeFileSync(join(dir, 'bpe.gguf'), bpeGGUF);
    llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.disabled });
    models.spm = await llama.loadModel({ modelPath: spmFile, vocabOnly: true });
    models.bpe = await llama.loadModel({ modelPath: join(dir, 'bpe.gguf'), vocabOnly: true });
  });

  afterAll(async () => {
    for (const m of Object.values(models)) await m.dispose();
    await llama?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
    removeLlamaCppClone();
  });

  test('the vocabularies give the templates their BOS and EOS texts', () => {
    expect(specialTokenTexts(spm)).toEqual(SPM_TOKENS);
    expect(specialTokenTexts(bpe)).toEqual(LLAMA3_TOKENS);
  });

  test("LLaMA 2's <s> and </s> become the BOS and EOS ids, never their characters; [INST] stays text", () => {
    const text = builtinChatTemplate('llama-2', specialTokenTexts(spm)).render(CONVERSATION, true);
    const ids = encodeChat(spm, text);
    expect(ids).toEqual(Array.from(models.spm.tokenize(text, true))); // the template wrote the BOS: one, at the start
    expect(ids[0]).toBe(1);
    expect(ids.filter((id) => id === 1)).toHaveLength(2); // one BOS a user turn
    expect(ids.filter((id) => id === 2)).toHaveLength(1); // one EOS after the assistant's turn
    expect(spm.encode('<s>')).not.toContain(1); // plain encoding would have spelled it out
    expect(ids.slice(1, 6)).toEqual(spm.encode('[INST] <<SYS>>').slice(0, 5)); // after a special token, the dummy prefix as llama.cpp gives it
  });

  test('a template that writes no BOS (chatml, zephyr) gets one, as llama.cpp adds it', () => {
    for (const name of ['chatml', 'zephyr'] as const) {
      const text = builtinChatTemplate(name, specialTokenTexts(spm)).render(CONVERSATION, true);
      expect(encodeChat(spm, text)).toEqual([1, ...models.spm.tokenize(text, true)]);
    }
  });

  test("LLaMA 3's template on the llama-bpe vocabulary: <|begin_of_text|> once, <|eot_id|> as its id", () => {
    const text = jinjaChatTemplate(OFFICIAL['llama-3'], 'x', specialTokenTexts(bpe)).render(CONVERSATION, true);
    const ids = encodeChat(bpe, text);
    expect(ids).toEqual(Array.from(models.bpe.tokenize(text, true)));
    expect(ids[0]).toBe(128000);
    expect(ids.filter((id) => id === 128000)).toHaveLength(1);
    expect(ids.filter((id) => id === 128009)).toHaveLength(4); // <|eot_id|>
    const chatml = builtinChatTemplate('chatml', specialTokenTexts(bpe)).render(CONVERSATION, true);
    expect(encodeChat(bpe, chatml)).toEqual([128000, ...models.bpe.tokenize(chatml, true)]);
  });
});

describe('a conversation longer than the context', () => {
  const spm = anyTokenizerFromBytes(readFileBytes('models/kjv.model'), 'kjv.model');
  const template = builtinChatTemplate('chatml', specialTokenTexts(spm));
  const long: ChatMessage[] = [system];
  for (let i = 0; i < 6; i++) long.push({ role: 'user', content: `question ${i} about the beginning` }, { role: 'assistant', content: `answer ${i} about the end` });
  long.push({ role: 'user', content: 'the last question' });
  const full = encodeChat(spm, template.render(long, true)).length;

  test('is an Error saying how long it is and the context', () => {
    expect(() => fitConversation(template, spm, long, { context: 64, reply: 16, contextShift: false }))
      .toThrow(`the conversation is ${full} tokens long: too long for the context of 64 tokens with 1 left for the reply (give a larger context, or contextShift (--context-shift) to drop the oldest turns)`);
    expect(fitConversation(template, spm, long, { context: full + 1, reply: 16, contextShift: false })).toMatchObject({ dropped: 0, messages: long });
  });

  test('with contextShift, drops the oldest turns (whole user-assistant pairs), keeping the system message', () => {
    const fitted = fitConversation(template, spm, long, { context: 100, reply: 16, contextShift: true });
    expect(fitted.dropped % 2).toBe(0);
    expect(fitted.dropped).toBeGreaterThan(0);
    expect(fitted.messages).toEqual([system, ...long.slice(1 + fitted.dropped)]);
    expect(fitted.tokens.length + 16).toBeLessThanOrEqual(100);
    // one turn more would have fitted too: the fewest were dropped
    const oneMore = [system, ...long.slice(fitted.dropped - 1)];
    expect(encodeChat(spm, template.render(oneMore, true)).length + 16).toBeGreaterThan(100);
    expect(() => fitConversation(template, spm, long, { context: 20, reply: 4, contextShift: true }))
      .toThrow(/^with the oldest turns dropped, the conversation is \d+ tokens long: too long for the context of 20 tokens/);
  });
});
