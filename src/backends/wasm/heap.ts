// The WASM linear memory of one kernels instance, and who lives where in it.
//
//   [0, heapBase)        the module's static data (math tables)
//   [heapBase, top)      bump-allocated, never freed, in allocation order:
//                          weights            uploaded once per tensor (weights.ts)
//                          views              allocate(): e.g. the KV cache
//                          scratch arenas     activations copied in for one call
//   [top, buffer end)    free; memory grows (in 64 KiB pages) when an allocation needs it
//
// The memory is shared (a SharedArrayBuffer): growing it leaves every existing view valid,
// where growing an unshared memory detaches them all, and the worker threads (pool.ts) run
// kernels on the same weights.
//
// A wasm32 memory stops at 4 GiB. A larger model is split into layer shards (plan.ts):
// several memories, each with its own instance of the same module (in every thread),
// holding a contiguous run of layers and their KV cache; the forward pass hands the
// activations from shard to shard — a copy of T·C floats per shard boundary, nothing next
// to the weights. Memory64 would lift the limit outright once runtimes ship it.

export const PAGE_BYTES = 65536;
export const WASM32_MAX_BYTES = 65536 * PAGE_BYTES; // 4 GiB
const ALIGN = 64; // a cache line; also keeps every f32x4 load aligned

export type Region = 'weights' | 'views' | 'scratch';

export function alignUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

export class WasmHeap {
  readonly memory: WebAssembly.Memory;
  readonly maxBytes: number;
  private top: number; // first free byte
  private readonly used: Record<Region, number> = { weights: 0, views: 0, scratch: 0 };
  // Every SharedArrayBuffer this memory has handed out (a new one after each grow): an
  // argument whose .buffer is in here is already in WASM memory and needs no copy.
  private readonly ownBuffers = new WeakSet<ArrayBufferLike>();
  private f32View: Float32Array = new Float32Array(0);
  private u8View: Uint8Array = new Uint8Array(0);

  constructor(memory: WebAssembly.Memory, heapBase: number, maxBytes: number) {
    this.memory = memory;
    this.maxBytes = maxBytes;
    this.top = alignUp(heapBase, ALIGN);
  }

  // The whole memory as floats / bytes, refreshed after a grow (here or by another thread).
  f32(): Float32Array {
    if (this.f32View.byteLength !== this.memory.buffer.byteLength) this.f32View = new Float32Array(this.buffer());
    return this.f32View;
  }

  u8(): Uint8Array {
    if (this.u8View.byteLength !== this.memory.buffer.byteLength) this.u8View = new Uint8Array(this.buffer());
    return this.u8View;
  }

  buffer(): ArrayBufferLike {
    const buffer = this.memory.buffer;
    this.ownBuffers.add(buffer);
    return buffer;
  }

  owns(array: ArrayBufferView): boolean {
    return this.ownBuffers.has(array.buffer);
  }

  // The first free byte: an allocation ending here is the last one, and can be extended.
  get end(): number {
    return this.top;
  }

  fits(bytes: number): boolean {
    return alignUp(this.top, ALIGN) + bytes <= this.maxBytes;
  }

  usage(): Record<Region, number> & { total: number; capacity: number } {
    return { ...this.used, total: this.top, capacity: this.maxBytes };
  }

  // Throws, naming every size, when `bytes` more would not fit in the memory's maximum.
  checkFits(bytes: number, what: string): void {
    const end = alignUp(this.top, ALIGN) + bytes;
    if (end <= this.maxBytes) return;
    const { weights, views, scratch } = this.used;
    throw new Error(
      `wasm kernels: ${what} needs ${mib(bytes)} but WASM memory would then reach ${mib(end)}, over its ` +
        `maximum of ${mib(this.maxBytes)}${this.maxBytes === WASM32_MAX_BYTES ? ' (all a wasm32 memory can address)' : ''}; ` +
        `in use: weights ${mib(weights)}, views ${mib(views)}, scratch ${mib(scratch)}`,
    );
  }

  // Reserves `bytes` (64-byte aligned) and returns its byte offset; never freed.
  alloc(bytes: number, region: Region, what: string): number {
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw new Error(`wasm kernels: ${what}: bad size ${bytes}`);
    this.checkFits(bytes, what);
    const start = alignUp(this.top, ALIGN);
    const end = start + bytes;
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      // Grow by at least a quarter of what is there, so many small allocations stay cheap.
      const want = Math.min(this.maxBytes, Math.max(end, have + have / 4));
      try {
        this.memory.grow(Math.ceil((want - have) / PAGE_BYTES));
      } catch (error) {
        throw new Error(`wasm kernels: ${what}: growing WASM memory from ${mib(have)} to ${mib(want)} failed: ${(error as Error).message}`);
      }
    }
    this.used[region] += end - this.top;
    this.top = end;
    return start;
  }
}

// Per-call space for activations copied into WASM memory. Reset at the start of every
// kernel call. When a call needs more than the arena holds, the arena grows in place if
// it is the last allocation of the heap (the usual case once weights and KV cache are
// placed); otherwise a bigger arena is taken and the old one abandoned (its pointers stay
// valid until the call ends, as nothing else is ever placed there). Sizes double, so the
// waste stays below the final size.
const MIN_ARENA = 64 * 1024;

export class ScratchArena {
  private base = 0;
  private capacity = 0;
  private used = 0;

  constructor(private readonly heap: WasmHeap) {}

  reset(): void {
    this.used = 0;
  }

  take(bytes: number): number {
    const size = alignUp(bytes, ALIGN);
    if (this.used + size > this.capacity) this.makeRoom(size);
    const ptr = this.base + this.used;
    this.used += size;
    return ptr;
  }

  private makeRoom(size: number): void {
    const what = 'scratch space for activations';
    const doubled = Math.max(2 * this.capacity, MIN_ARENA);
    if (this.capacity > 0 && this.heap.end === this.base + this.capacity) {
      const needed = this.used + size;
      const grown = Math.max(needed, doubled);
      const target = this.heap.fits(grown - this.capacity) ? grown : needed; // doubling may not fit; exactly may
      this.heap.alloc(target - this.capacity, 'scratch', what); // contiguous: capacity is 64-byte aligned
      this.capacity = target;
      return;
    }
    this.capacity = this.heap.fits(Math.max(size, doubled)) ? Math.max(size, doubled) : size;
    this.base = this.heap.alloc(this.capacity, 'scratch', what);
    this.used = 0;
  }
}
