// One kernel call's arguments in WASM memory: arrays that are views of the memory the call
// runs in are used in place; any other Float32Array is copied into that memory's scratch
// arena, and outputs are copied back when the call finishes. Also the argument checks that
// give clear errors instead of a kernel reading or writing past an array.
import type { ScratchArena, WasmHeap } from './heap.js';
import type { Shard } from './shard.js';

// What a kernel call was given, and its copy of each argument in WASM memory.
export class CallFrame {
  private readonly copyBack: [target: Float32Array, ptr: number, length: number][] = [];

  private readonly heap: WasmHeap;
  private readonly scratch: ScratchArena;

  constructor(shard: Shard, private readonly kernel: string) {
    this.heap = shard.heap;
    this.scratch = shard.scratch;
    this.scratch.reset();
  }

  // `length` floats of `a` are needed: throws a clear error instead of a kernel reading
  // or writing past the array (which, for a view, would be someone else's memory).
  check(a: Float32Array, length: number, name: string): void {
    if (!Number.isSafeInteger(length) || length < 0) throw new Error(`wasm ${this.kernel}: bad size ${length} for ${name}`);
    if (a.length < length) throw new Error(`wasm ${this.kernel}: ${name} has ${a.length} floats, needs ${length}`);
  }

  // Pointer to the first `length` floats of `a`, as input.
  input(a: Float32Array, length: number, name: string): number {
    this.check(a, length, name);
    if (this.heap.owns(a)) return a.byteOffset;
    const ptr = this.scratch.take(4 * length);
    this.heap.f32().set(a.subarray(0, length), ptr / 4);
    return ptr;
  }

  // Pointer to a copy of the first `length` doubles of `a` (small f64 tables: RoPE's θ_i).
  inputF64(a: Float64Array, length: number, name: string): number {
    if (!(a instanceof Float64Array) || a.length < length) throw new Error(`wasm ${this.kernel}: ${name} must be a Float64Array of ${length} values`);
    const ptr = this.scratch.take(8 * length); // 64-byte aligned
    new Float64Array(this.heap.buffer(), ptr, length).set(a.subarray(0, length));
    return ptr;
  }

  // Pointer where the kernel writes the first `length` floats of `a`.
  output(a: Float32Array, length: number, name: string): number {
    this.check(a, length, name);
    if (this.heap.owns(a)) return a.byteOffset;
    const ptr = this.scratch.take(4 * length);
    this.copyBack.push([a, ptr, length]);
    return ptr;
  }

  // An array read and written in place (rope): input that is also copied back.
  inout(a: Float32Array, length: number, name: string): number {
    const ptr = this.input(a, length, name);
    if (!this.heap.owns(a)) this.copyBack.push([a, ptr, length]);
    return ptr;
  }

  temp(floats: number): number {
    return this.scratch.take(4 * floats);
  }

  finish(): void {
    const memory = this.heap.f32();
    for (const [target, ptr, length] of this.copyBack) target.set(memory.subarray(ptr / 4, ptr / 4 + length));
  }
}

export function positiveInts(kernel: string, values: Record<string, number>): void {
  for (const [name, v] of Object.entries(values)) {
    if (!Number.isSafeInteger(v) || v <= 0) throw new Error(`wasm ${kernel}: ${name} must be a positive integer, got ${v}`);
  }
}
