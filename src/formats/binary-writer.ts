// A growable little-endian byte sink, the mirror of BinaryReader, used by the GGUF and
// llama2.c writers.
//
//   buf     Uint8Array [capacity]   doubles when full
//   length  number                  bytes written so far; finish() returns buf[0, length)

const utf8 = new TextEncoder();

export class BinaryWriter {
  private buf: Uint8Array;
  private view: DataView;
  length = 0;

  constructor(initialCapacity = 1024) {
    this.buf = new Uint8Array(Math.max(16, initialCapacity));
    this.view = new DataView(this.buf.buffer);
  }

  // Makes room for `n` more bytes and returns where they go. It may replace buf and view,
  // so callers take the offset before touching either.
  private reserve(n: number): number {
    const at = this.length;
    if (at + n > this.buf.length) {
      let cap = this.buf.length;
      while (cap < at + n) cap *= 2;
      const bigger = new Uint8Array(cap);
      bigger.set(this.buf.subarray(0, at));
      this.buf = bigger;
      this.view = new DataView(bigger.buffer);
    }
    this.length += n;
    return at;
  }

  u8(v: number): void {
    const at = this.reserve(1);
    this.view.setUint8(at, v);
  }
  i8(v: number): void {
    const at = this.reserve(1);
    this.view.setInt8(at, v);
  }
  u16(v: number): void {
    const at = this.reserve(2);
    this.view.setUint16(at, v, true);
  }
  i16(v: number): void {
    const at = this.reserve(2);
    this.view.setInt16(at, v, true);
  }
  u32(v: number): void {
    const at = this.reserve(4);
    this.view.setUint32(at, v, true);
  }
  i32(v: number): void {
    const at = this.reserve(4);
    this.view.setInt32(at, v, true);
  }
  u64(v: bigint | number): void {
    const at = this.reserve(8);
    this.view.setBigUint64(at, BigInt(v), true);
  }
  i64(v: bigint | number): void {
    const at = this.reserve(8);
    this.view.setBigInt64(at, BigInt(v), true);
  }
  f32(v: number): void {
    const at = this.reserve(4);
    this.view.setFloat32(at, v, true);
  }
  f64(v: number): void {
    const at = this.reserve(8);
    this.view.setFloat64(at, v, true);
  }
  bool(v: boolean): void {
    this.u8(v ? 1 : 0);
  }

  // GGUF string: uint64 byte length, then UTF-8 without a terminator.
  string(s: string): void {
    const b = utf8.encode(s);
    this.u64(b.length);
    this.bytes(b);
  }

  bytes(b: Uint8Array): void {
    const at = this.reserve(b.length); // may replace this.buf, so reserve first
    this.buf.set(b, at);
  }

  // Float32 values in little-endian order, whatever the host's byte order.
  f32Array(values: Float32Array): void {
    const at = this.reserve(4 * values.length);
    for (let i = 0; i < values.length; i++) this.view.setFloat32(at + 4 * i, values[i], true);
  }

  // Zero bytes up to the next multiple of `alignment`.
  padTo(alignment: number): void {
    const pad = (alignment - (this.length % alignment)) % alignment;
    this.reserve(pad); // fresh capacity is already zero
  }

  // The bytes written; no copy when the initial capacity was exact.
  finish(): Uint8Array {
    return this.length === this.buf.length ? this.buf : this.buf.slice(0, this.length);
  }
}
