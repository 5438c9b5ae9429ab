// Runs one case and judges it (the rules are in target.ts), with a memory bound set from the
// input's size: every typed array and ArrayBuffer made while the case runs is checked
// against it before it is allocated. (A worker's resourceLimits bound the JS heap too, but a
// typed array lives outside that heap: a crafted count would allocate gigabytes unseen.)
import type { Target } from './target.js';
import { Violation } from './target.js';

export const MEMORY_BASE = 32 << 20; // bytes any case may allocate at once
export const MEMORY_PER_INPUT_BYTE = 16; // and this many per byte of input
export const DEADLINE_PER_INPUT_BYTE = 0.02; // ms a case may take per byte of input, beyond the base deadline

export type Verdict = 'ok' | 'refused' | 'defect';

export interface CaseResult {
  verdict: Verdict;
  kind?: string; // a defect's kind: TypeError, RangeError, Violation, no-file-name, memory, slow...
  message?: string;
  ms: number;
  allocated: number; // the largest single allocation, bytes
}

let bound = Infinity;
let exceeded: string | undefined;
let largest = 0;

class MemoryBound extends Error {}

const TYPED = ['Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array'] as const;

// The bytes a typed array constructor call is about to allocate (0 for a view on a buffer).
function bytesOf(args: unknown[], perElement: number): number {
  const a = args[0];
  if (typeof a === 'number') return a * perElement;
  if (a instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && a instanceof SharedArrayBuffer)) return 0;
  const length = (a as { length?: unknown } | null)?.length;
  return typeof length === 'number' ? length * perElement : 0;
}

function guard(bytes: number, what: string): void {
  if (bytes > largest) largest = bytes;
  if (bytes > bound) {
    exceeded ??= `${what} of ${bytes} bytes, over the bound ${bound} (${MEMORY_BASE} + ${MEMORY_PER_INPUT_BYTE} x input)`;
    throw new MemoryBound(exceeded);
  }
}

let installed = false;

// Replaces the global typed array and ArrayBuffer constructors with checking proxies. Code
// that names them (new Float32Array(n), Float32Array.from(...)) goes through the check;
// instances are the real classes, so instanceof and species behave as before.
export function installMemoryGuard(): void {
  if (installed) return;
  installed = true;
  const g = globalThis as unknown as Record<string, unknown>;
  for (const name of TYPED) {
    const real = g[name] as { BYTES_PER_ELEMENT: number } & (new (...args: unknown[]) => unknown);
    g[name] = new Proxy(real, {
      construct(target, args, newTarget) {
        guard(bytesOf(args, real.BYTES_PER_ELEMENT), `new ${name}`);
        return Reflect.construct(target, args, newTarget);
      },
    });
  }
  const buffer = ArrayBuffer;
  g.ArrayBuffer = new Proxy(buffer, {
    construct(target, args, newTarget) {
      guard(typeof args[0] === 'number' ? args[0] : 0, 'new ArrayBuffer');
      return Reflect.construct(target, args, newTarget);
    },
  });
}

export function memoryBound(inputBytes: number): number {
  return MEMORY_BASE + MEMORY_PER_INPUT_BYTE * inputBytes;
}

// Which of the target's names an error message must mention ('' means any message will do:
// the prompt targets, whose errors name no file).
function namesFile(target: Target, message: string): boolean {
  return target.names.some((n) => message.includes(n));
}

export async function runCase<I>(target: Target<unknown, I>, input: I, deadlineMs: number): Promise<CaseResult> {
  bound = memoryBound(target.size(input));
  exceeded = undefined;
  largest = 0;
  const t0 = performance.now();
  let result: Omit<CaseResult, 'ms' | 'allocated'>;
  try {
    await target.run(input);
    result = { verdict: 'ok' };
  } catch (e) {
    result = judge(target, e);
  } finally {
    bound = Infinity;
  }
  const ms = performance.now() - t0;
  const allowed = deadlineMs + DEADLINE_PER_INPUT_BYTE * target.size(input); // a 1 MB prompt may take seconds
  if (exceeded) result = { verdict: 'defect', kind: 'memory', message: exceeded };
  else if (ms > allowed && result.verdict !== 'defect') result = { verdict: 'defect', kind: 'slow', message: `took ${ms.toFixed(0)} ms, over the deadline of ${allowed.toFixed(0)} ms` };
  return { ...result, ms, allocated: largest };
}

function judge(target: Target, e: unknown): Omit<CaseResult, 'ms' | 'allocated'> {
  if (e instanceof Violation) return { verdict: 'defect', kind: 'Violation', message: e.message };
  if (!(e instanceof Error)) return { verdict: 'defect', kind: 'non-Error', message: String(e) };
  const message = e.message;
  // A stack overflow is a RangeError in V8: reported as such, with its message.
  if (e.constructor !== Error) return { verdict: 'defect', kind: e.constructor.name, message: `${message}\n${(e.stack ?? '').split('\n').slice(1, 6).join('\n')}` };
  if (!namesFile(target, message)) return { verdict: 'defect', kind: 'no-file-name', message: `${message} (names none of: ${target.names.join(', ')})` };
  return { verdict: 'refused' };
}
