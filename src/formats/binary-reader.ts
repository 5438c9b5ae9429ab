// A bounds-checked little-endian cursor over a file held in memory.
//
// Every read first checks that the bytes exist and otherwise throws an Error that names the
// file, what was being read and where, so that a truncated or corrupt model file gives a
// message a person can act on instead of a RangeError from deep inside a DataView.
//
//   bytes   Uint8Array [length]   the whole file (or any slice of one); never copied
//   offset  number                the next byte to read, 0 <= offset <= length

const utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true }); // keep a leading U+FEFF: it can be a vocabulary piece

export class BinaryReader {
  readonly bytes: Uint8Array;
  readonly fileName: string;
  offset: number;
  private readonly view: DataView;

  constructor(bytes: Uint8Array, fileName: string, offset = 0) {
    this.bytes = bytes;
    this.fileName = fileName;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > bytes.length) {
      throw new Error(`${fileName}: start offset ${offset} is outside the file (${bytes.length} bytes)`);
    }
    this.offset = offset;
  }

  get length(): number {
    return this.bytes.length;
  }

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  // Throws "<file>: <what> at offset N: ..." (the offset defaults to the cursor).
  fail(message: string, at: number = this.offset): never {
    throw new Error(`${this.fileName}: ${message} at offset ${at}`);
  }

  // Checks that `n` bytes can be read at the cursor. `n` may come straight from the file
  // (a bigint length, a huge product), so it is compared before anything is sized by it.
  need(n: number | bigint, what: string): void {
    const fits =
      typeof n === 'bigint'
        ? n >= 0n && n <= BigInt(this.remaining)
        : Number.isSafeInteger(n) && n >= 0 && n <= this.remaining;
    if (!fits) {
      throw new Error(
        `${this.fileName}: ${what} at offset ${this.offset}: needs ${n} bytes, file has ${this.length}` +
          ` (${this.remaining} left)`,
      );
    }
  }

  seek(offset: number, what = 'seek'): void {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > this.length) {
      throw new Error(`${this.fileName}: ${what}: offset ${offset} is outside the file (${this.length} bytes)`);
    }
    this.offset = offset;
  }

  skip(n: number, what: string): void {
    this.need(n, what);
    this.offset += n;
  }

  u8(what: string): number {
    this.need(1, what);
    return this.view.getUint8(this.offset++);
  }

  i8(what: string): number {
    this.need(1, what);
    return this.view.getInt8(this.offset++);
  }

  u16(what: string): number {
    this.need(2, what);
    const v = this.view.getUint16(this.offset, true);
    this.offset += 2;
    return v;
  }

  i16(what: string): number {
    this.need(2, what);
    const v = this.view.getInt16(this.offset, true);
    this.offset += 2;
    return v;
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.offset, true);
    this.offset += 4;
    return v;
  }

  i32(what: string): number {
    this.need(4, what);
    const v = this.view.getInt32(this.offset, true);
    this.offset += 4;
    return v;
  }

  u64(what: string): bigint {
    this.need(8, what);
    const v = this.view.getBigUint64(this.offset, true);
    this.offset += 8;
    return v;
  }

  i64(what: string): bigint {
    this.need(8, what);
    const v = this.view.getBigInt64(this.offset, true);
    this.offset += 8;
    return v;
  }

  f32(what: string): number {
    this.need(4, what);
    const v = this.view.getFloat32(this.offset, true);
    this.offset += 4;
    return v;
  }

  f64(what: string): number {
    this.need(8, what);
    const v = this.view.getFloat64(this.offset, true);
    this.offset += 8;
    return v;
  }

  // One byte that must be 0 or 1 (GGUF stores bool as int8).
  bool(what: string): boolean {
    const at = this.offset;
    const b = this.u8(what);
    if (b > 1) this.fail(`${what}: bool must be 0 or 1, got ${b}`, at);
    return b === 1;
  }

  // A uint64 byte length, then that many bytes of UTF-8 (invalid sequences become U+FFFD).
  string(what: string): string {
    const at = this.offset;
    const n = this.u64(`${what} length`);
    if (n > BigInt(this.remaining)) {
      this.fail(`${what}: string length ${n} runs past the end of the file (${this.remaining} bytes left)`, at);
    }
    return utf8.decode(this.slice(Number(n), what));
  }

  // A view (not a copy) of the next `n` bytes.
  slice(n: number, what: string): Uint8Array {
    this.need(n, what);
    const out = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }
}
