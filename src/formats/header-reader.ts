// A BinaryReader over the first bytes of a file that is longer: every bound is checked
// against the whole file's length (so the errors are the ones the in-memory parse gives),
// and a read that fits the file but not the bytes held so far throws NeedMoreBytes,
// telling the caller to read a longer head and parse again (file-layout.ts).
//
//   head        Uint8Array [held]   the file's bytes [0, held), held <= fileLength
//   fileLength  number              the file's size on disk
import { BinaryReader } from './binary-reader.js';

export class NeedMoreBytes extends Error {
  constructor(readonly end: number) {
    super(`the header continues past the ${end} bytes read so far`);
  }
}

export class HeaderReader extends BinaryReader {
  constructor(head: Uint8Array, fileName: string, readonly fileLength: number) {
    super(head, fileName);
    if (!(head.length <= fileLength)) throw new Error(`${fileName}: ${head.length} header bytes held, file has ${fileLength}`);
  }

  override get length(): number {
    return this.fileLength;
  }

  override get remaining(): number {
    return this.fileLength - this.offset;
  }

  override need(n: number | bigint, what: string): void {
    super.need(n, what); // within the file, else the usual error
    const end = this.offset + Number(n);
    if (end > this.bytes.length) throw new NeedMoreBytes(end);
  }
}
