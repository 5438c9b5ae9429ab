// Turns a run of byte-fallback pieces back into text, incrementally.
//
// SentencePiece's rule (sentencepiece_processor.cc, ProcessBytePieces): read the bytes
// one character at a time; a well-formed UTF-8 character (shortest form, not a
// surrogate, at most U+10FFFF) becomes that character, anything else costs one byte and
// becomes U+FFFD. So an invalid or cut-off sequence of k bytes gives up to k U+FFFDs
// (TextDecoder would give one per "maximal subpart"; we follow SentencePiece).
//
// Streaming: a character whose bytes have not all arrived is held back until they do,
// or until the run ends (`final`), when it is judged exactly as the whole run would be.
// Hence the concatenated output of push()es and the final flush() equals decoding the
// whole run at once.

const REPLACEMENT = '\uFFFD';

// Bytes a character starting with `lead` needs, or 0 if `lead` cannot start one.
function sequenceLength(lead: number): number {
  if (lead < 0x80) return 1;
  if ((lead & 0xe0) === 0xc0) return 2;
  if ((lead & 0xf0) === 0xe0) return 3;
  if ((lead & 0xf8) === 0xf0) return 4;
  return 0;
}

const MIN_CODE_POINT = [0, 0, 0x80, 0x800, 0x10000]; // by sequence length: shorter is overlong

// The code point encoded by bytes[i .. i+len), or -1 if it is not well-formed.
function decodeSequence(bytes: number[], i: number, len: number): number {
  let cp = len === 1 ? bytes[i] : bytes[i] & (0x7f >> len);
  for (let k = 1; k < len; k++) {
    const b = bytes[i + k];
    if ((b & 0xc0) !== 0x80) return -1;
    cp = (cp << 6) | (b & 0x3f);
  }
  if (cp < MIN_CODE_POINT[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return -1;
  return cp;
}

export class PendingBytes {
  private bytes: number[] = []; // [pending] bytes of characters not yet complete

  get empty(): boolean {
    return this.bytes.length === 0;
  }

  push(byte: number): string {
    this.bytes.push(byte);
    return this.drain(false);
  }

  // Ends the run: whatever is left is decoded now.
  flush(): string {
    return this.drain(true);
  }

  private drain(final: boolean): string {
    const b = this.bytes;
    let out = '';
    let i = 0;
    while (i < b.length) {
      const len = sequenceLength(b[i]);
      if (len > 0 && i + len > b.length && !final) break; // wait for the rest
      const cp = len > 0 && i + len <= b.length ? decodeSequence(b, i, len) : -1;
      if (cp < 0) {
        out += REPLACEMENT;
        i += 1;
      } else {
        out += String.fromCodePoint(cp);
        i += len;
      }
    }
    this.bytes = b.slice(i);
    return out;
  }
}
