import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BinaryReader } from '../src/formats/binary-reader.js';
import { BinaryWriter } from '../src/formats/binary-writer.js';

describe('BinaryReader / BinaryWriter', () => {
  it('reads back every type the writer writes, little-endian', () => {
    const w = new BinaryWriter(16); // small, so that it has to grow several times
    w.u8(200); w.i8(-100); w.u16(0xbeef); w.i16(-2); w.u32(0xdeadbeef); w.i32(-123456);
    w.u64(2n ** 64n - 2n); w.i64(-(2n ** 62n)); w.f32(1.5); w.f64(-Math.E); w.bool(true); w.bool(false);
    w.string('ünïcödé ▁'); w.bytes(new Uint8Array([9, 8, 7])); w.padTo(16); w.f32Array(new Float32Array([0.25, -8]));
    const bytes = w.finish();
    expect(bytes.length).toBe(w.length);
    expect(Array.from(bytes.subarray(0, 4))).toEqual([200, 156, 0xef, 0xbe]);
    const r = new BinaryReader(bytes, 'rw.bin');
    expect([r.u8('a'), r.i8('b'), r.u16('c'), r.i16('d'), r.u32('e'), r.i32('f')]).toEqual([200, -100, 0xbeef, -2, 0xdeadbeef, -123456]);
    expect([r.u64('g'), r.i64('h')]).toEqual([2n ** 64n - 2n, -(2n ** 62n)]);
    expect([r.f32('i'), r.f64('j'), r.bool('k'), r.bool('l')]).toEqual([1.5, -Math.E, true, false]);
    expect(r.string('m')).toBe('ünïcödé ▁');
    expect(Array.from(r.slice(3, 'n'))).toEqual([9, 8, 7]);
    expect(r.offset % 16).not.toBe(0);
    r.seek(Math.ceil(r.offset / 16) * 16);
    expect([r.f32('o'), r.f32('p')]).toEqual([0.25, -8]);
    expect(r.remaining).toBe(0);
  });

  it('reading past the end names the file, the field, the offset and the sizes', () => {
    const r = new BinaryReader(new Uint8Array(6), 'short.bin', 4);
    expect(() => r.u32('header field')).toThrow('short.bin: header field at offset 4: needs 4 bytes, file has 6 (2 left)');
    expect(() => r.u64('count')).toThrow(/short\.bin: count at offset 4: needs 8 bytes/);
    expect(() => r.slice(3, 'blob')).toThrow(/blob at offset 4: needs 3 bytes/);
    expect(() => r.need(2n ** 64n, 'huge')).toThrow(/needs 18446744073709551616 bytes/);
    expect(() => r.need(Number.NaN, 'nan')).toThrow(/nan at offset 4/);
    expect(() => r.seek(7)).toThrow(/offset 7 is outside the file \(6 bytes\)/);
    expect(r.offset).toBe(4); // a failed read moves nothing
    expect(r.u16('ok')).toBe(0);
  });

  it('a string whose length runs past the end is refused before decoding', () => {
    const w = new BinaryWriter();
    w.u64(1000n);
    w.bytes(new Uint8Array(10));
    expect(() => new BinaryReader(w.finish(), 's.bin').string('name')).toThrow(/s\.bin: name: string length 1000 runs past the end of the file \(10 bytes left\) at offset 0/);
  });

  it('works on a subarray with a nonzero byteOffset', () => {
    const backing = new Uint8Array([0xff, 1, 0, 0, 0, 0xff]);
    const r = new BinaryReader(backing.subarray(1, 5), 'sub.bin');
    expect(r.u32('x')).toBe(1);
    expect(() => r.u8('y')).toThrow(/sub\.bin: y at offset 4: needs 1 bytes, file has 4/);
  });

  it('never throws anything but a named Error on random reads of random bytes (fast-check)', () => {
    const ops = ['u8', 'i8', 'u16', 'i16', 'u32', 'i32', 'u64', 'i64', 'f32', 'f64', 'bool', 'string'] as const;
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.array(fc.constantFrom(...ops), { maxLength: 12 }), (bytes, seq) => {
        const r = new BinaryReader(bytes, 'rand.bin');
        for (const op of seq) {
          const before = r.offset;
          try {
            r[op]('field');
          } catch (e) {
            expect((e as Error).constructor).toBe(Error);
            expect((e as Error).message).toMatch(/^rand\.bin: /);
            if (op !== 'bool' && op !== 'string') expect(r.offset).toBe(before);
            return;
          }
          expect(r.offset).toBeGreaterThan(before);
        }
      }),
      { numRuns: 500, seed: 3 },
    );
  });
});
