// `llama-ts generate --show-probs K`: under each generated token, the K most likely tokens
// of its step with the model's probabilities, the chosen one marked. Colour (ANSI) only
// where asked: a terminal, or FORCE_COLOR; piped output stays plain text.
import type { TokenProbability } from '../generate/sampler.js';
import { showPiece } from './views.js';

const GREEN = '\x1b[1;32m';
const DIM = '\x1b[2m';
const RESET = '\x1b[0m';

// Colour for a stream: FORCE_COLOR (not '0') forces it, NO_COLOR or a non-terminal turns it off.
export function wantsColor(isTTY: boolean | undefined, env: Record<string, string | undefined>): boolean {
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') return true;
  return isTTY === true && env.NO_COLOR === undefined;
}

// Two lines: the token's text, then its alternatives, e.g.
//   ␣time
//       ␣time 87.1% *  ␣day 6.2%  ␣while 1.9%
export function formatAlternatives(token: number, alternatives: TokenProbability[], piece: (t: number) => string, color: boolean): string {
  const shown = (t: number): string => JSON.stringify(showPiece(piece(t))).slice(1, -1); // escapes control characters
  const items = alternatives.map((a) => {
    const text = `${shown(a.token)} ${(a.prob * 100).toFixed(2)}%`;
    if (a.token === token) return color ? `${GREEN}${text} *${RESET}` : `${text} *`;
    return color ? `${DIM}${text}${RESET}` : text;
  });
  if (!alternatives.some((a) => a.token === token)) items.push(color ? `${GREEN}(chosen: not among them)${RESET}` : '(chosen: not among them)');
  return `${color ? GREEN : ''}${shown(token)}${color ? RESET : ''}\n    ${items.join('  ')}\n`;
}

interface PieceDecoder {
  decodePiece(prevId: number, id: number): Uint8Array;
  vocab?: object; // SentencePiece's has `pieces`
}

const utf8 = new TextDecoder();

// A token's own text, its leading space kept (decode() of one id drops SentencePiece's
// dummy-prefix space, which is exactly what tells " there" from "there"); a control token
// (BOS, EOS) by its piece, e.g. <s>.
export function tokenText(tokenizer: PieceDecoder, id: number): string {
  const text = utf8.decode(tokenizer.decodePiece(-1, id));
  return text || (tokenizer.vocab as { pieces?: readonly string[] } | undefined)?.pieces?.[id]?.trim() || `⟨${id}⟩`;
}
