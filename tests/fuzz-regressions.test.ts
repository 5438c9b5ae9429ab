// Every input the fuzzer ever caught (bench/fuzz/regressions/<target>/<kind>-<hash>.<ext>,
// minimized by fast-check) is replayed through its target on every test run: each must now
// load, or fail with a plain Error that names the file, within the deadline and the memory
// bound (bench/fuzz/run-case.ts judges it exactly as the fuzzer did).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { targetNamed } from '../bench/fuzz/batch.js';
import { installMemoryGuard, runCase } from '../bench/fuzz/run-case.js';

const DIR = fileURLToPath(new URL('../bench/fuzz/regressions', import.meta.url));
const files = readdirSync(DIR).flatMap((target) => readdirSync(join(DIR, target)).map((file) => ({ target, file })));

installMemoryGuard();

describe('fuzz regressions', () => {
  test('there are regression files, each under a known target', () => {
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const { target } of files) expect(() => targetNamed(target)).not.toThrow();
  });

  for (const { target, file } of files) {
    test(`${target}/${file}`, async () => {
      const t = targetNamed(target);
      const result = await runCase(t, t.decode(new Uint8Array(readFileSync(join(DIR, target, file)))), 10_000);
      expect(result.verdict === 'defect' ? `${result.kind}: ${result.message}` : 'clean').toBe('clean');
      expect(['ok', 'refused']).toContain(result.verdict);
    });
  }
});
