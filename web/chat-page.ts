// The page's chat mode: a messages list and an input, over one chat worker
// (chat-worker.ts) that keeps the model and the conversation. window.llamaChat does the
// same without the form (tests/browser-chat.test.ts uses it).
import type { ChatMessageOut, ChatRequest, ChatStart, ChatTurn } from './chat-protocol.js';

type Final = Exclude<ChatMessageOut, { type: 'text' }>;

// The page's side of the chat worker: each request resolves with its final message.
export class ChatClient {
  private readonly worker = new Worker(new URL('./chat-worker.js', import.meta.url), { type: 'module' });
  private readonly waiting: { resolve(m: Final): void; reject(e: Error): void; onText?: (text: string) => void }[] = [];

  constructor() {
    this.worker.onmessage = (e: MessageEvent<ChatMessageOut>) => {
      const m = e.data;
      if (m.type === 'text') return this.waiting[0]?.onText?.(m.text);
      const w = this.waiting.shift();
      if (m.type === 'error') w?.reject(new Error(m.message));
      else w?.resolve(m);
    };
    this.worker.onerror = (e) => {
      for (const w of this.waiting.splice(0)) w.reject(new Error(`chat worker: ${e.message ?? 'failed to load'}`));
    };
  }

  private request(r: ChatRequest, onText?: (text: string) => void): Promise<Final> {
    return new Promise<Final>((resolve, reject) => {
      this.waiting.push({ resolve, reject, onText });
      this.worker.postMessage(r);
    });
  }

  async start(r: Omit<ChatStart, 'type'>): Promise<string> {
    const m = await this.request({ type: 'start', ...r });
    return m.type === 'ready' ? m.template : '';
  }

  async say(text: string, o: { system?: string; maxTokens: number; temperature: number }, onText?: (text: string) => void): Promise<ChatTurn> {
    const m = await this.request({ type: 'say', text, ...o }, onText);
    if (m.type !== 'turn') throw new Error(`chat worker: unexpected ${m.type}`);
    return m.turn;
  }

  async reset(): Promise<void> {
    await this.request({ type: 'reset' });
  }

  close(): void {
    this.worker.terminate();
  }
}

const field = (id: string): HTMLInputElement => document.getElementById(id) as HTMLInputElement;

let client: ChatClient | undefined;
let startedWith = ''; // the model settings the client was started with

// A client started with the form's model settings (restarted when they changed).
async function chatClient(status: HTMLElement): Promise<ChatClient> {
  const start: Omit<ChatStart, 'type'> = {
    modelUrl: field('model').value,
    tokenizerUrl: field('tokenizer').value || undefined,
    chatTemplate: (field('chat-template').value || undefined) as ChatStart['chatTemplate'],
    threads: Number(field('threads').value),
  };
  const key = JSON.stringify(start);
  if (client && key === startedWith) return client;
  client?.close();
  client = new ChatClient();
  startedWith = key;
  document.getElementById('messages')!.replaceChildren();
  status.textContent = 'loading the model…';
  status.textContent = `chat template: ${await client.start(start)}`;
  return client;
}

function addMessage(role: string, text: string): HTMLElement {
  const item = document.createElement('li');
  item.className = role;
  item.textContent = text;
  document.getElementById('messages')!.append(item);
  return item;
}

async function onSend(event: Event): Promise<void> {
  event.preventDefault();
  const status = document.getElementById('status')!;
  const input = field('chat-input');
  const text = input.value.trim();
  if (text === '') return;
  input.value = '';
  try {
    const chat = await chatClient(status);
    addMessage('user', text);
    const reply = addMessage('assistant', '');
    const options = { system: field('system').value, maxTokens: Number(field('max-tokens').value), temperature: Number(field('temperature').value) };
    const turn = await chat.say(text, options, (piece) => (reply.textContent += piece));
    reply.textContent = turn.reply;
    status.textContent = `${turn.stats.evaluated} new tokens evaluated, ${turn.stats.reused} reused; ${turn.stats.generated} tokens generated`;
  } catch (error) {
    status.textContent = `error: ${(error as Error).message}`;
  }
}

async function onReset(): Promise<void> {
  await client?.reset();
  document.getElementById('messages')!.replaceChildren();
}

// Shows the chat or the plain generation form, as the toggle says.
function showMode(): void {
  const chat = field('chat-mode').checked;
  document.getElementById('chat')!.hidden = !chat;
  for (const id of ['prompt-label', 'generate', 'output']) document.getElementById(id)!.hidden = chat;
}

export function setUpChatMode(): void {
  (globalThis as unknown as { llamaChat: () => ChatClient }).llamaChat = () => new ChatClient();
  field('chat-mode')?.addEventListener('change', showMode);
  document.getElementById('chat-form')?.addEventListener('submit', (e) => void onSend(e));
  document.getElementById('chat-reset')?.addEventListener('click', () => void onReset());
}
