// Text → the normalized string that BPE splits, as SentencePiece's normalizer does it
// (normalizer.cc, Normalizer::Normalize):
//
//   1. (nfkc models) Unicode NFKC, our stand-in for the precompiled character map
//   2. remove_extra_whitespaces: drop leading spaces; an all-space text becomes ""
//   3. add_dummy_prefix: one space in front of any non-empty text, so that a word at
//      the start of the text is spelled like a word after a space ("▁Hello")
//   4. remove_extra_whitespaces: collapse runs of spaces to one
//   5. escape_whitespaces: ' ' → '▁'
//   6. remove_extra_whitespaces: drop trailing spaces (▁ when escaped)
//
// Only U+0020 counts as whitespace here, as in SentencePiece: tabs and newlines are
// ordinary characters (the LLaMA vocabulary encodes them as byte pieces).
//
// Lone surrogates (UTF-16 halves with no partner) cannot be written as UTF-8, so they
// become U+FFFD, as TextEncoder does; decode(encode(s)) then equals s.toWellFormed().
import { SPACE_SYMBOL } from './vocabulary.js';

export interface NormalizerOptions {
  nfkc?: boolean;
  addDummyPrefix: boolean;
  removeExtraWhitespaces: boolean;
  escapeWhitespaces: boolean;
}

// Replaces each unpaired surrogate with U+FFFD.
export function toWellFormed(text: string): string {
  // A high surrogate not followed by a low one, or a low one not preceded by a high one.
  return text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

export function normalize(text: string, o: NormalizerOptions): string {
  let s = toWellFormed(text);
  if (o.nfkc) s = s.normalize('NFKC');
  if (o.removeExtraWhitespaces) s = s.replace(/^ +/, '');
  if (s.length === 0) return '';
  if (o.addDummyPrefix) s = ' ' + s;
  if (o.removeExtraWhitespaces) s = s.replace(/ {2,}/g, ' ');
  if (o.escapeWhitespaces) s = s.replaceAll(' ', SPACE_SYMBOL);
  // SentencePiece trims the escaped string, so a trailing ▁ typed in the text goes too.
  if (o.removeExtraWhitespaces) s = s.replace(o.escapeWhitespaces ? /\u2581+$/ : / +$/, '');
  return s;
}
