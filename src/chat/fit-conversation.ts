// A conversation rendered and tokenized, checked against the context: too long is an Error
// saying how long, or, with contextShift, the oldest turns are dropped (the system message
// is kept) until it fits with room for the reply.
import type { AnyTokenizer } from '../tokenizer/any-tokenizer.js';
import type { ChatMessage } from './builtin-templates.js';
import type { ChatTemplate } from './chat-template.js';
import { encodeChat } from './chat-tokens.js';

export interface FittedConversation {
  tokens: number[]; // the prompt: the conversation rendered with the generation prompt
  messages: ChatMessage[]; // the messages it holds (fewer than given when turns were dropped)
  dropped: number; // messages dropped
}

export interface FitOptions {
  context: number; // KV cache positions
  reply: number; // positions wanted for the reply (with contextShift)
  contextShift: boolean;
}

export function renderConversation(template: ChatTemplate, tokenizer: AnyTokenizer, messages: readonly ChatMessage[]): number[] {
  return encodeChat(tokenizer, template.render(messages, true));
}

export function fitConversation(template: ChatTemplate, tokenizer: AnyTokenizer, messages: readonly ChatMessage[], o: FitOptions): FittedConversation {
  if (messages.length === 0) throw new Error('chat: the conversation has no messages');
  let kept = [...messages];
  let tokens = renderConversation(template, tokenizer, kept);
  // Without contextShift the prompt must leave one position for the reply; with it, room
  // for `reply` tokens (at most half the context) is made by dropping turns.
  const room = o.contextShift ? Math.max(1, Math.min(o.reply, Math.floor(o.context / 2))) : 1;
  while (tokens.length + room > o.context) {
    const shorter = o.contextShift ? dropOldestTurn(kept) : undefined;
    if (!shorter) throw tooLong(tokens.length, room, o, kept.length < messages.length);
    kept = shorter;
    tokens = renderConversation(template, tokenizer, kept);
  }
  return { tokens, messages: kept, dropped: messages.length - kept.length };
}

// The conversation without its oldest turn: the first message after the system message,
// and the assistant reply after it (so that it still starts with a user message); undefined
// when only the last message (and the system message) is left.
function dropOldestTurn(messages: readonly ChatMessage[]): ChatMessage[] | undefined {
  const first = messages[0].role === 'system' ? 1 : 0;
  let end = first + 1;
  while (end < messages.length - 1 && messages[end].role === 'assistant') end++;
  if (end > messages.length - 1) return undefined;
  return [...messages.slice(0, first), ...messages.slice(end)];
}

function tooLong(length: number, room: number, o: FitOptions, shifted: boolean): Error {
  const what = shifted ? 'with the oldest turns dropped, the conversation' : 'the conversation';
  const hint = o.contextShift ? 'give a larger context' : 'give a larger context, or contextShift (--context-shift) to drop the oldest turns';
  return new Error(`${what} is ${length} tokens long: too long for the context of ${o.context} tokens with ${room} left for the reply (${hint})`);
}
