// Which chat template a model gets: the built-in one asked for by name (--chat-template,
// LoadOptions.chatTemplate) wins; else the model's own (chat-template.ts); else none, and
// chat is then an Error that says to pick a built-in one.
import type { AnyTokenizer } from '../tokenizer/any-tokenizer.js';
import type { BuiltinTemplateName } from './builtin-templates.js';
import { builtinChatTemplate, findModelChatTemplate, jinjaChatTemplate, type ChatTemplate, type TemplateFiles } from './chat-template.js';
import { specialTokenTexts } from './chat-tokens.js';

export function chatTemplateFor(files: TemplateFiles, tokenizer: AnyTokenizer, builtin?: BuiltinTemplateName): ChatTemplate | undefined {
  const tokens = specialTokenTexts(tokenizer);
  if (builtin) return builtinChatTemplate(builtin, tokens);
  const own = findModelChatTemplate(files);
  return own && jinjaChatTemplate(own.text, own.source, tokens);
}
