// A minimal protobuf wire-format reader: enough to walk a SentencePiece ModelProto.
//
// A message is a sequence of fields, each a varint key (field number << 3 | wire type)
// followed by its value:
//   wire 0  varint (int32, int64, bool, enum)
//   wire 1  fixed64 (8 bytes little-endian)
//   wire 2  length-delimited (varint length, then that many bytes: string, bytes, sub-message)
//   wire 5  fixed32 (4 bytes little-endian: float)
// Every read is checked against the end of its message, so a corrupt file gives an
// Error naming the file, the field and the byte offset, never a RangeError.

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LEN = 2;
export const WIRE_FIXED32 = 5;

export interface FieldKey {
  field: number;
  wire: number;
  offset: number; // byte offset of the key in the file
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }); // keep a leading U+FEFF: LLaMA has it as a piece

export class ProtoReader {
  private pos: number;

  // Reads bytes[start, end) of a file; offsets in errors are absolute within `bytes`.
  constructor(
    private readonly bytes: Uint8Array,
    readonly fileName: string,
    readonly what: string, // the message being read, for error messages
    start = 0,
    private readonly end = bytes.length,
  ) {
    this.pos = start;
  }

  get offset(): number {
    return this.pos;
  }

  atEnd(): boolean {
    return this.pos >= this.end;
  }

  fail(message: string, offset = this.pos): never {
    throw new Error(`${this.fileName}: ${this.what}: ${message} at byte offset ${offset}`);
  }

  // A varint as its low 32 bits and the bits above, so 10-byte negative int32s
  // (e.g. pad_id = -1) decode exactly.
  private varintParts(): [lo: number, hi: number] {
    const start = this.pos;
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.fail('truncated varint', start);
      const b = this.bytes[this.pos++];
      const bits = b & 0x7f;
      if (i < 4) lo |= bits << (7 * i);
      else if (i === 4) {
        lo |= (bits & 0x0f) << 28;
        hi = bits >> 4;
      } else hi += bits * 2 ** (7 * i - 32);
      if ((b & 0x80) === 0) return [lo >>> 0, hi];
    }
    this.fail('varint longer than 10 bytes', start);
  }

  int32(): number {
    return this.varintParts()[0] | 0;
  }

  uint64(): number {
    const [lo, hi] = this.varintParts();
    return hi * 2 ** 32 + lo;
  }

  bool(): boolean {
    const [lo, hi] = this.varintParts();
    return lo !== 0 || hi !== 0;
  }

  key(): FieldKey {
    const offset = this.pos;
    const k = this.uint64();
    const field = Math.floor(k / 8);
    const wire = k % 8;
    if (field === 0) this.fail('field number 0', offset);
    return { field, wire, offset };
  }

  float32(): number {
    this.need(4, 'fixed32');
    const view = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.pos, 4);
    this.pos += 4;
    return view.getFloat32(0, true);
  }

  // The [start, end) range of a length-delimited value, checked against the message end.
  lengthDelimited(): [start: number, end: number] {
    const at = this.pos;
    const n = this.uint64();
    if (n > this.end - this.pos) {
      this.fail(`length ${n} runs past the end of the message (${this.end - this.pos} bytes left)`, at);
    }
    const start = this.pos;
    this.pos += n;
    return [start, this.pos];
  }

  string(): string {
    const [start, end] = this.lengthDelimited();
    try {
      return utf8.decode(this.bytes.subarray(start, end));
    } catch {
      this.fail('string is not valid UTF-8', start);
    }
  }

  // A reader for the sub-message that follows.
  message(what: string): ProtoReader {
    const [start, end] = this.lengthDelimited();
    return new ProtoReader(this.bytes, this.fileName, what, start, end);
  }

  skip(k: FieldKey): void {
    if (k.wire === WIRE_VARINT) {
      this.uint64();
    } else if (k.wire === WIRE_FIXED64) {
      this.need(8, 'fixed64');
      this.pos += 8;
    } else if (k.wire === WIRE_LEN) {
      this.lengthDelimited();
    } else if (k.wire === WIRE_FIXED32) {
      this.need(4, 'fixed32');
      this.pos += 4;
    } else {
      this.fail(`field ${k.field} has unsupported wire type ${k.wire}`, k.offset);
    }
  }

  // Fails unless field `k` has the wire type its schema says.
  expect(k: FieldKey, wire: number, name: string): void {
    if (k.wire !== wire) this.fail(`field ${name} (${k.field}) has wire type ${k.wire}, expected ${wire}`, k.offset);
  }

  private need(n: number, what: string): void {
    if (this.end - this.pos < n) this.fail(`truncated ${what}`);
  }
}
