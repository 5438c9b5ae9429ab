// Typed-array views of tensor data inside a loaded file: zero copy when the data's address is
// a multiple of the element size (what a typed array requires), one copy otherwise.
// Model files are little-endian; on a big-endian host (none in practice) values are copied
// and byte-swapped through a DataView so that results stay correct.
//
// Callers have already checked that [offset, offset + count * elementSize) lies in `bytes`.

const hostIsLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function checkRange(bytes: Uint8Array, offset: number, byteLength: number): void {
  if (!(offset >= 0 && byteLength >= 0 && offset + byteLength <= bytes.length)) {
    throw new Error(`tensor view [${offset}, ${offset + byteLength}) outside a ${bytes.length}-byte file`);
  }
}

// float32 values: Float32Array [count]
export function f32View(bytes: Uint8Array, offset: number, count: number): Float32Array {
  checkRange(bytes, offset, 4 * count);
  const at = bytes.byteOffset + offset;
  if (hostIsLittleEndian && at % 4 === 0) return new Float32Array(bytes.buffer, at, count);
  const out = new Float32Array(count);
  if (hostIsLittleEndian) {
    new Uint8Array(out.buffer).set(bytes.subarray(offset, offset + 4 * count));
  } else {
    const dv = new DataView(bytes.buffer, at, 4 * count);
    for (let i = 0; i < count; i++) out[i] = dv.getFloat32(4 * i, true);
  }
  return out;
}

// IEEE half bit patterns: Uint16Array [count]
export function u16View(bytes: Uint8Array, offset: number, count: number): Uint16Array {
  checkRange(bytes, offset, 2 * count);
  const at = bytes.byteOffset + offset;
  if (hostIsLittleEndian && at % 2 === 0) return new Uint16Array(bytes.buffer, at, count);
  const out = new Uint16Array(count);
  if (hostIsLittleEndian) {
    new Uint8Array(out.buffer).set(bytes.subarray(offset, offset + 2 * count));
  } else {
    const dv = new DataView(bytes.buffer, at, 2 * count);
    for (let i = 0; i < count; i++) out[i] = dv.getUint16(2 * i, true);
  }
  return out;
}

// Raw bytes (quantized blocks): Uint8Array [byteLength], always a view.
export function u8View(bytes: Uint8Array, offset: number, byteLength: number): Uint8Array {
  checkRange(bytes, offset, byteLength);
  return bytes.subarray(offset, offset + byteLength);
}
