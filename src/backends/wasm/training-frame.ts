// The arguments of one WASM training kernel call as pointers into WASM memory, and the
// scratch block that holds copies of those that live elsewhere (training.ts).
//
// An array that is a view of the kernels' memory is used in place; any other is copied into
// the scratch block and, if the kernel writes it, copied back when the call finishes.

// What a frame needs of the kernels it serves.
export interface FrameHost {
  readonly scratch: ScratchBlock;
  owns(a: ArrayBufferView): boolean; // a view of WASM memory?
  f32(): Float32Array; // the whole memory, current after any grow
}

// Scratch space for the arguments of one call: a block of WASM memory taken with
// allocate(), reused by every call, replaced by one twice as large when a call needs more.
export class ScratchBlock {
  private base = 0; // byte offset
  private capacity = 0; // bytes
  private used = 0;

  constructor(private readonly allocate: (floats: number) => Float32Array) {}

  reset(): void {
    this.used = 0;
  }

  // Byte offset of `floats` fresh floats, 64-byte aligned.
  take(floats: number): number {
    const bytes = Math.ceil((4 * floats) / 64) * 64;
    if (this.used + bytes > this.capacity) {
      // Earlier pointers of this call stay valid: the old block is abandoned, never reused.
      this.capacity = Math.max(bytes, 2 * this.capacity, 1 << 20);
      this.base = this.allocate(this.capacity / 4).byteOffset;
      this.used = 0;
    }
    const ptr = this.base + this.used;
    this.used += bytes;
    return ptr;
  }
}

// The arguments of one kernel call, each as a pointer into WASM memory.
export class Frame {
  private readonly placed = new Map<Float32Array, number>(); // an array given twice is placed once
  private readonly copyBack: [target: Float32Array, ptr: number, length: number][] = [];

  constructor(private readonly backend: FrameHost, private readonly kernel: string) {
    backend.scratch.reset();
  }

  // `length` floats of `a` are needed: a clear error instead of a kernel reading or writing
  // past the array (which, for a view, would be someone else's memory).
  private check(a: Float32Array, length: number, name: string): void {
    if (!(a instanceof Float32Array)) throw new Error(`wasm ${this.kernel}: ${name} must be a Float32Array`);
    if (!Number.isSafeInteger(length) || length < 0) throw new Error(`wasm ${this.kernel}: bad size ${length} for ${name}`);
    if (a.length < length) throw new Error(`wasm ${this.kernel}: ${name} has ${a.length} floats, needs ${length}`);
  }

  // Pointer to the first `length` floats of `a`, read by the kernel.
  input(a: Float32Array, length: number, name: string): number {
    this.check(a, length, name);
    if (this.backend.owns(a)) return a.byteOffset;
    const known = this.placed.get(a);
    if (known !== undefined) return known;
    const ptr = this.backend.scratch.take(length);
    this.backend.f32().set(a.subarray(0, length), ptr / 4);
    this.placed.set(a, ptr);
    return ptr;
  }

  // Pointer to `a`, read and written by the kernel (gradients accumulate: += needs the old value).
  inout(a: Float32Array, length: number, name: string): number {
    const ptr = this.input(a, length, name);
    if (!this.backend.owns(a) && !this.copyBack.some(([target]) => target === a)) this.copyBack.push([a, ptr, length]);
    return ptr;
  }

  // Pointer where the kernel writes the first `length` floats of `a` (old values not read).
  output(a: Float32Array, length: number, name: string): number {
    this.check(a, length, name);
    if (this.backend.owns(a)) return a.byteOffset;
    const ptr = this.backend.scratch.take(length);
    this.copyBack.push([a, ptr, length]);
    return ptr;
  }

  // Pointer to a copy of the first `length` doubles of `a` (small f64 tables: RoPE's θ_i).
  inputF64(a: Float64Array, length: number, name: string): number {
    if (!(a instanceof Float64Array) || a.length < length) throw new Error(`wasm ${this.kernel}: ${name} must be a Float64Array of ${length} values`);
    const ptr = this.backend.scratch.take(2 * length); // 64-byte aligned
    new Float64Array(this.backend.f32().buffer, ptr, length).set(a.subarray(0, length));
    return ptr;
  }

  temp(floats: number): number {
    return this.backend.scratch.take(floats);
  }

  finish(): void {
    const memory = this.backend.f32();
    for (const [target, ptr, length] of this.copyBack) target.set(memory.subarray(ptr / 4, ptr / 4 + length));
  }
}
