// GPT-2's byte-to-unicode table: every byte 0..255 as one printable character, so that a
// byte-level BPE vocabulary is a list of ordinary strings (and a merge "a b" can be split
// at its space, since no byte is spelled as a space).
//
//   the printable Latin-1 bytes   '!'..'~', '¡'..'¬', '®'..'ÿ'   stand for themselves
//   the other 68 bytes            (controls, space, DEL, NBSP, soft hyphen...) become
//                                 U+0100, U+0101, ... in byte order: space is 'Ġ' (U+0120),
//                                 '\n' is 'Ċ' (U+010A)
//
// Radford et al.'s encoder.py defines the table; LLaMA 3, GPT-2 and Qwen2 share it.

function isPrintable(byte: number): boolean {
  return (byte >= 0x21 && byte <= 0x7e) || (byte >= 0xa1 && byte <= 0xac) || (byte >= 0xae && byte <= 0xff);
}

// [256] the character that spells each byte
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const chars: string[] = [];
  let next = 0x100; // the next stand-in code point for a non-printable byte
  for (let byte = 0; byte < 256; byte++) chars.push(String.fromCharCode(isPrintable(byte) ? byte : next++));
  return chars;
})();

// The byte each of the 256 characters spells.
const CHAR_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_CHAR.map((c, byte) => [c, byte]));

// UTF-8 bytes → their byte-level spelling (one character a byte).
export function bytesToSymbols(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += BYTE_TO_CHAR[b];
  return s;
}

// A byte-level spelling → its bytes. A character outside the table (a vocabulary entry
// that is not byte-level) stands for its own UTF-8 bytes.
export function symbolsToBytes(symbols: string, out: number[] = []): number[] {
  for (const c of symbols) {
    const byte = CHAR_TO_BYTE.get(c);
    if (byte !== undefined) out.push(byte);
    else for (const b of utf8.encode(c)) out.push(b);
  }
  return out;
}

const utf8 = new TextEncoder();
