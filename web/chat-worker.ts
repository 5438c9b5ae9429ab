// The page's chat worker: loads a model once (ChatStart), then answers each user message
// with the assistant's reply, streamed, keeping the conversation and the session's KV cache
// between turns, so a turn evaluates only its new tokens (src/generate/chat.ts).
import { loadLlamaFromBytes, type BrowserLlama, type ChatMessage, type ChatStats } from '../src/browser.js';
import type { ChatMessageOut, ChatRequest, ChatSay, ChatStart } from './chat-protocol.js';

const scope = globalThis as unknown as {
  onmessage: ((e: MessageEvent<ChatRequest>) => void) | null;
  postMessage(message: ChatMessageOut): void;
};

let llama: BrowserLlama | undefined;
let turns: ChatMessage[] = []; // the conversation without its system message
let queue = Promise.resolve(); // one request at a time, in order

async function fetchBytes(url: string): Promise<ArrayBuffer> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.arrayBuffer();
}

async function start(r: ChatStart): Promise<ChatMessageOut> {
  await llama?.close();
  llama = undefined;
  const [model, tokenizer] = await Promise.all([fetchBytes(r.modelUrl), r.tokenizerUrl ? fetchBytes(r.tokenizerUrl) : undefined]);
  const loaded = await loadLlamaFromBytes({
    model, modelName: r.modelUrl, tokenizer, tokenizerName: r.tokenizerUrl, threads: r.threads, chatTemplate: r.chatTemplate, contextLength: r.contextLength,
  });
  if (!loaded.chatTemplate) {
    await loaded.close();
    throw new Error(`${r.modelUrl} has no chat template: pick a built-in one`);
  }
  llama = loaded;
  turns = [];
  return { type: 'ready', template: loaded.chatTemplate.source };
}

async function say(r: ChatSay): Promise<ChatMessageOut> {
  if (!llama) throw new Error('chat: no model loaded (start first)');
  const system: ChatMessage[] = r.system ? [{ role: 'system', content: r.system }] : [];
  const messages = [...system, ...turns, { role: 'user', content: r.text }];
  let reply = '';
  let stats: ChatStats | undefined;
  for await (const chunk of llama.chatChunks(messages, { maxTokens: r.maxTokens, temperature: r.temperature })) {
    if (chunk.text) scope.postMessage({ type: 'text', text: chunk.text });
    reply += chunk.text;
    if (chunk.done) stats = chunk.stats;
  }
  turns.push({ role: 'user', content: r.text }, { role: 'assistant', content: reply });
  return { type: 'turn', turn: { reply, stats: stats! } };
}

async function handle(r: ChatRequest): Promise<ChatMessageOut> {
  if (r.type === 'start') return start(r);
  if (r.type === 'say') return say(r);
  turns = [];
  return { type: 'reset' };
}

scope.onmessage = (e) => {
  queue = queue.then(() => handle(e.data).then(
    (out) => scope.postMessage(out),
    (error: Error) => scope.postMessage({ type: 'error', message: error.message }),
  ));
};
