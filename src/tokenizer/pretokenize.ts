// Pre-tokenizers of byte-level BPE: the regular expression that cuts text into words
// before any merge, so that no token spans two words (a letter run and the punctuation
// after it, say). Named as GGUF's `tokenizer.ggml.pre` names them.
//
//   llama-bpe   LLaMA 3 (also "llama3", "llama-v3"): numbers in groups of up to 3 digits
//   qwen2       LLaMA 3's expression with every digit its own word
//   gpt-2       GPT-2's original expression
//
// Every character lands in exactly one word: each expression ends in alternatives that
// take any run of whitespace and any run of other characters, so the words, joined, are
// the text again.
//
// Character classes are Unicode properties, as in the tokenizer.json originals:
// \p{L} letters, \p{N} numbers, and whitespace as Unicode's White_Space property (not JS's
// \s, which adds U+FEFF and lacks U+0085). llama.cpp's own tables (unicode-data.cpp)
// agree with these on every code point both Unicode versions assign; a code point that
// only the newer version assigns may be classed differently.
//
// The originals spell the contractions case-insensitively with (?i:'s|'t|...); Node 20's
// regular expressions have no inline modifiers, so each letter is written [sS].

const LETTER = '\\p{L}';
const NUMBER = '\\p{N}';
const SPACE = '\\p{White_Space}';
const NEWLINE = '\\r\\n';

// The LLaMA 3 expression, alternative by alternative; `digits` is how many digits a
// number word takes at most (3 for LLaMA 3, 1 for Qwen2).
function llama3Pattern(digits: number): string {
  return [
    "'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]", // contractions: 's 't 're 've 'm 'll 'd, any case
    `[^${NEWLINE}${LETTER}${NUMBER}]?${LETTER}+`, // a letter run, with one character before it that is no newline, letter or digit (a space)
    `${NUMBER}{1,${digits}}`, // numbers, a few digits a word
    ` ?[^${SPACE}${LETTER}${NUMBER}]+[${NEWLINE}]*`, // punctuation and symbols, after one space, with the newlines after them
    `${SPACE}*[${NEWLINE}]+`, // whitespace up to and including its last newline
    `${SPACE}+(?![^${SPACE}])`, // whitespace but the last space before a word (which starts the next word)
    `${SPACE}+`, // the whitespace left
  ].join('|');
}

const GPT2_PATTERN = [
  "'s|'t|'re|'ve|'m|'ll|'d", // contractions, lower case only
  ` ?${LETTER}+`, // a letter run, after one space
  ` ?${NUMBER}+`, // a digit run, after one space
  ` ?[^${SPACE}${LETTER}${NUMBER}]+`, // punctuation and symbols, after one space
  `${SPACE}+(?![^${SPACE}])`, // whitespace but the last space before a word
  `${SPACE}+`, // the whitespace left
].join('|');

export interface PreTokenizer {
  name: string; // the canonical name (GGUF tokenizer.ggml.pre)
  pattern: string; // the expression, for the record (tokenizer.json's Split)
  ignoreMerges: boolean; // a word that is a whole token is that token, merges or not (LLaMA 3)
  addBos: boolean; // whether the model's prompts begin with BOS unless the file says otherwise
}

const LLAMA3: PreTokenizer = { name: 'llama-bpe', pattern: llama3Pattern(3), ignoreMerges: true, addBos: true };
const QWEN2: PreTokenizer = { name: 'qwen2', pattern: llama3Pattern(1), ignoreMerges: false, addBos: false };
const GPT2: PreTokenizer = { name: 'gpt-2', pattern: GPT2_PATTERN, ignoreMerges: false, addBos: false };

const BY_NAME: ReadonlyMap<string, PreTokenizer> = new Map([
  ['llama-bpe', LLAMA3],
  ['llama3', LLAMA3],
  ['llama-v3', LLAMA3],
  ['qwen2', QWEN2],
  ['gpt-2', GPT2],
]);

export const KNOWN_PRE_TOKENIZERS: readonly string[] = [...BY_NAME.keys()];

// The pre-tokenizer of a name; an Error naming it, `field` and the known ones otherwise.
export function preTokenizer(name: string, field: string): PreTokenizer {
  const pre = BY_NAME.get(name);
  if (!pre) {
    throw new Error(`${field} is ${JSON.stringify(name)}, a pre-tokenizer llama-ts does not implement (known: ${KNOWN_PRE_TOKENIZERS.join(', ')})`);
  }
  return pre;
}

// The pre-tokenizer whose expression is `pattern` (as a tokenizer.json Split holds it,
// with (?i:...) or with the letters spelled out), or undefined.
export function preTokenizerOfPattern(pattern: string): PreTokenizer | undefined {
  const spelled = pattern.replace("(?i:'s|'t|'re|'ve|'m|'ll|'d)", "'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]")
    .replace("(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])", "'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]");
  for (const pre of [LLAMA3, QWEN2, GPT2]) if (toOriginalSpelling(pre.pattern) === spelled) return pre;
  return undefined;
}

// Our pattern as the tokenizer.json files write it: \s and \S, not White_Space.
function toOriginalSpelling(pattern: string): string {
  return pattern.replaceAll(`(?![^${SPACE}])`, '(?!\\S)').replaceAll(SPACE, '\\s');
}

// The pattern as tokenizer.json writes it (for writers).
export function originalPattern(pre: PreTokenizer): string {
  const s = toOriginalSpelling(pre.pattern);
  return pre === GPT2 ? s : s.replace("'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]", "(?i:'s|'t|'re|'ve|'m|'ll|'d)");
}

const compiled = new WeakMap<PreTokenizer, RegExp>();

// The words of `text`, in order; joined they are `text`.
export function splitWords(text: string, pre: PreTokenizer): string[] {
  let re = compiled.get(pre);
  if (!re) compiled.set(pre, (re = new RegExp(pre.pattern, 'gu')));
  return text.match(re) ?? [];
}
