// Chat templates: a conversation → prompt text → token ids (the generation loop over them,
// with the KV cache kept between turns, is src/generate/chat.ts).
export { BUILTIN_TEMPLATE_NAMES, BUILTIN_TEMPLATES, parseBuiltinTemplateName, type BuiltinTemplateName, type ChatMessage, type TemplateInputs } from './builtin-templates.js';
export { builtinChatTemplate, jinjaChatTemplate, findModelChatTemplate, type ChatTemplate, type SpecialTokenTexts, type TemplateFiles } from './chat-template.js';
export { encodeChat, specialTokenTexts } from './chat-tokens.js';
export { chatTemplateFor } from './model-template.js';
