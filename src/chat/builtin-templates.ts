// The built-in chat templates (--chat-template NAME): each family's official Jinja template
// rewritten as a TypeScript function, rendering exactly what the official one renders with
// transformers' Jinja settings (trim_blocks, lstrip_blocks). tests/chat-templates.test.ts
// renders the official templates with @huggingface/jinja beside these and compares.
//
//   llama-2  meta-llama/Llama-2-7b-chat-hf: <s>[INST] <<SYS>>\n…\n<</SYS>>\n\nuser [/INST] reply </s>
//   llama-3  meta-llama/Meta-Llama-3-8B-Instruct: <|start_header_id|>role<|end_header_id|>\n\n…<|eot_id|>
//   chatml   <|im_start|>role\n…<|im_end|>\n
//   zephyr   HuggingFaceH4/zephyr-7b-beta: <|role|>\n…</s>\n

export interface ChatMessage {
  role: string; // 'system', 'user' or 'assistant'
  content: string;
}

// What a template is given besides the messages, as transformers passes them.
export interface TemplateInputs {
  addGenerationPrompt: boolean; // end with the start of an assistant turn
  bosToken: string; // the text of the vocabulary's BOS token (<s>, <|begin_of_text|>)
  eosToken: string;
}

export const BUILTIN_TEMPLATE_NAMES = ['llama-2', 'llama-3', 'chatml', 'zephyr'] as const;
export type BuiltinTemplateName = (typeof BUILTIN_TEMPLATE_NAMES)[number];

interface BuiltinTemplate {
  render(messages: readonly ChatMessage[], inputs: TemplateInputs): string;
  endOfTurn(inputs: TemplateInputs): string; // the text that closes an assistant turn (a stop string)
}

// Python's str.strip() and Jinja's trim: whitespace at both ends.
const strip = (s: string): string => s.trim();

function llama2(messages: readonly ChatMessage[], { bosToken, eosToken }: TemplateInputs): string {
  const hasSystem = messages[0]?.role === 'system';
  const system = hasSystem ? messages[0].content : undefined;
  const turns = hasSystem ? messages.slice(1) : messages;
  let out = '';
  turns.forEach((m, i) => {
    if ((m.role === 'user') !== (i % 2 === 0)) throw new Error('Conversation roles must alternate user/assistant/user/assistant/...');
    const content = i === 0 && system !== undefined ? `<<SYS>>\n${system}\n<</SYS>>\n\n${m.content}` : m.content;
    if (m.role === 'user') out += `${bosToken}[INST] ${strip(content)} [/INST]`;
    else if (m.role === 'assistant') out += ` ${strip(content)} ${eosToken}`;
  });
  return out; // (the official template has no generation prompt: [/INST] already asks for the reply)
}

function llama3(messages: readonly ChatMessage[], { bosToken, addGenerationPrompt }: TemplateInputs): string {
  let out = '';
  messages.forEach((m, i) => {
    const turn = `<|start_header_id|>${m.role}<|end_header_id|>\n\n${strip(m.content)}<|eot_id|>`;
    out += i === 0 ? bosToken + turn : turn;
  });
  return addGenerationPrompt ? `${out}<|start_header_id|>assistant<|end_header_id|>\n\n` : out;
}

function chatml(messages: readonly ChatMessage[], { addGenerationPrompt }: TemplateInputs): string {
  const out = messages.map((m) => `<|im_start|>${m.role}\n${m.content}<|im_end|>\n`).join('');
  return addGenerationPrompt ? `${out}<|im_start|>assistant\n` : out;
}

function zephyr(messages: readonly ChatMessage[], { eosToken, addGenerationPrompt }: TemplateInputs): string {
  let out = '';
  messages.forEach((m, i) => {
    if (m.role === 'user' || m.role === 'system' || m.role === 'assistant') out += `<|${m.role}|>\n${m.content}${eosToken}\n`;
    // the official template asks for the reply inside its loop, after the last message only
    if (i === messages.length - 1 && addGenerationPrompt) out += '<|assistant|>\n';
  });
  return out;
}

export const BUILTIN_TEMPLATES: Record<BuiltinTemplateName, BuiltinTemplate> = {
  'llama-2': { render: llama2, endOfTurn: (t) => t.eosToken },
  'llama-3': { render: llama3, endOfTurn: () => '<|eot_id|>' },
  chatml: { render: chatml, endOfTurn: () => '<|im_end|>' },
  zephyr: { render: zephyr, endOfTurn: (t) => t.eosToken },
};

export function parseBuiltinTemplateName(name: string): BuiltinTemplateName {
  if (!(BUILTIN_TEMPLATE_NAMES as readonly string[]).includes(name)) {
    throw new Error(`unknown chat template "${name}" (built-in: ${BUILTIN_TEMPLATE_NAMES.join(', ')})`);
  }
  return name as BuiltinTemplateName;
}
