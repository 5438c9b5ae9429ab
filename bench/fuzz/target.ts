// One fuzz target: an entry point of llama-ts, the recipes that mutate its seeds, and what
// counts as a right answer. The runner (run-case.ts) judges every outcome the same way:
//   - returns: the target's own checks passed (a correct result);
//   - throws a plain Error whose message names the file (one of `names`): a clean refusal;
//   - anything else is a defect: another class (TypeError, RangeError from a typed array,
//     a stack overflow), an Error that does not say which file, a Violation (a wrong
//     result), an allocation over the memory bound, or a case over the deadline.
import type fc from 'fast-check';

export interface Target<R = unknown, I = unknown> {
  name: string;
  weight: number; // share of a run's cases (cheap targets get more)
  names: readonly string[]; // an Error must mention one of these (file names, or '' for "any")
  recipe(): fc.Arbitrary<R>;
  build(recipe: R): I;
  run(input: I): void | Promise<void>;
  size(input: I): number; // bytes, for the memory bound
  encode(input: I): Uint8Array; // a regression file's bytes
  decode(bytes: Uint8Array): I;
  extension: string; // of regression files
  deadlineMs?: number; // a case's base deadline, where the run's default is too short (whole forward passes)
}

// A wrong result (not a refusal): always a defect.
export class Violation extends Error {
  override name = 'Violation';
}

export function check(ok: boolean, what: string): void {
  if (!ok) throw new Violation(what);
}

const utf8 = new TextEncoder();
const text = new TextDecoder();

// For targets whose input is a file's bytes.
export const bytesCodec = {
  size: (b: Uint8Array) => b.length,
  encode: (b: Uint8Array) => b,
  decode: (b: Uint8Array) => b,
};

// For targets whose input is JSON-able: JSON.stringify escapes lone surrogates (\ud800), so
// a prompt holding one survives the round trip through a regression file.
export const jsonCodec = {
  size: (v: unknown) => JSON.stringify(v).length * 2,
  encode: (v: unknown) => utf8.encode(JSON.stringify(v)),
  decode: (b: Uint8Array) => JSON.parse(text.decode(b)) as never,
};

// Picks one of several seeds by index (fast-check shrinks toward the first).
export function pick<T>(items: readonly T[], i: number): T {
  return items[i % items.length];
}
