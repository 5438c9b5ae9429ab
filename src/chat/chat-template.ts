// A chat template: a conversation → the prompt text the model was tuned on. Either the
// model's own Jinja template (GGUF tokenizer.chat_template, or chat_template in the
// tokenizer_config.json beside a Hugging Face folder), rendered with @huggingface/jinja
// (the engine transformers.js uses) given what transformers gives it, or a built-in one
// (builtin-templates.ts) picked by name.
import { Template } from '@huggingface/jinja';
import type { GGUFValue } from '../formats/gguf.js';
import { END_OF_TURN_TOKENS } from '../tokenizer/byte-level-vocabulary.js';
import type { HuggingFaceTokenizerFiles } from '../tokenizer/model-vocabulary.js';
import { BUILTIN_TEMPLATES, type BuiltinTemplateName, type ChatMessage, type TemplateInputs } from './builtin-templates.js';

export interface ChatTemplate {
  source: string; // where it came from, named in errors: 'built-in llama-3', 'model.gguf: tokenizer.chat_template'
  // The conversation as text; an Error naming `source` when the template fails.
  render(messages: readonly ChatMessage[], addGenerationPrompt: boolean): string;
  stops: string[]; // texts that end an assistant turn (generation stops before them)
}

// The bos_token / eos_token texts a template is given (chat-tokens.ts: from the vocabulary).
export type SpecialTokenTexts = Pick<TemplateInputs, 'bosToken' | 'eosToken'>;

// A built-in template, for a vocabulary whose BOS and EOS are spelled `tokens`.
export function builtinChatTemplate(name: BuiltinTemplateName, tokens: SpecialTokenTexts): ChatTemplate {
  const builtin = BUILTIN_TEMPLATES[name];
  const source = `built-in ${name}`;
  return {
    source,
    render: (messages, addGenerationPrompt) => failsWithSource(source, () => builtin.render(messages, { ...tokens, addGenerationPrompt })),
    stops: [builtin.endOfTurn({ ...tokens, addGenerationPrompt: true })].filter((s) => s !== ''),
  };
}

// A Jinja template's text; a syntax error is an Error now, naming `source`.
export function jinjaChatTemplate(text: string, source: string, tokens: SpecialTokenTexts): ChatTemplate {
  const template = failsWithSource(source, () => new Template(text));
  return {
    source,
    render: (messages, addGenerationPrompt) => failsWithSource(source, () => template.render({
      messages: messages.map((m) => ({ ...m })),
      add_generation_prompt: addGenerationPrompt,
      bos_token: tokens.bosToken,
      eos_token: tokens.eosToken,
    })),
    // the end-of-turn markers the template writes (<|eot_id|>, <|im_end|>...)
    stops: END_OF_TURN_TOKENS.filter((t) => text.includes(t)),
  };
}

// What may hold a model's own template: the GGUF's metadata, the Hugging Face folder's files.
export interface TemplateFiles {
  name: string; // the model file or folder
  gguf?: Record<string, GGUFValue>;
  huggingFace?: HuggingFaceTokenizerFiles;
}

// The model's own Jinja template and where it is, or undefined if it has none.
export function findModelChatTemplate(files: TemplateFiles): { text: string; source: string } | undefined {
  const inGGUF = files.gguf?.['tokenizer.chat_template'];
  if (typeof inGGUF === 'string') return { text: inGGUF, source: `${files.name}: tokenizer.chat_template` };
  const hf = files.huggingFace;
  if (!hf?.tokenizerConfig) return undefined;
  const configName = `${hf.dir.replace(/\/+$/, '')}/tokenizer_config.json`;
  let config: unknown;
  try {
    config = JSON.parse(new TextDecoder().decode(hf.tokenizerConfig));
  } catch (e) {
    throw new Error(`${configName}: not valid JSON (${(e as Error).message})`);
  }
  const text = chatTemplateField((config as { chat_template?: unknown } | null)?.chat_template);
  return text === undefined ? undefined : { text, source: `${configName}: chat_template` };
}

// tokenizer_config.json's chat_template: a string, or (newer files) a list of named
// templates, of which transformers uses "default".
function chatTemplateField(field: unknown): string | undefined {
  if (typeof field === 'string') return field;
  if (Array.isArray(field)) {
    const named = field.find((t) => (t as { name?: unknown })?.name === 'default') as { template?: unknown } | undefined;
    if (typeof named?.template === 'string') return named.template;
  }
  return undefined;
}

function failsWithSource<T>(source: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw new Error(`chat template (${source}) failed: ${e instanceof Error ? e.message : String(e)}`);
  }
}
