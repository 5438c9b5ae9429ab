// The page's chat mode talks to one long-lived chat worker (chat-worker.ts), which loads the
// model once and keeps the conversation (and so the KV cache) between turns. Requests are
// answered in order: each gets text messages while a reply streams, then exactly one final
// message (ready, turn, reset or error).
import type { BuiltinTemplateName, ChatStats } from '../src/browser.js';

export interface ChatStart {
  type: 'start';
  modelUrl: string; // GGUF or llama2.c file
  tokenizerUrl?: string;
  chatTemplate?: BuiltinTemplateName; // default: the model's own
  threads: number;
  contextLength?: number;
}

export interface ChatSay {
  type: 'say';
  text: string; // the user's message
  system?: string; // the system message ('' or undefined: none)
  maxTokens: number;
  temperature: number; // 0 = greedy
}

export interface ChatReset {
  type: 'reset'; // forget the turns (the model and its cache stay)
}

export type ChatRequest = ChatStart | ChatSay | ChatReset;

export interface ChatTurn {
  reply: string;
  stats: ChatStats;
}

export type ChatMessageOut =
  | { type: 'text'; text: string } // part of the reply being written
  | { type: 'ready'; template: string } // started: the template's source
  | { type: 'turn'; turn: ChatTurn }
  | { type: 'reset' }
  | { type: 'error'; message: string };
