// Shared helpers for the commands: option parsing with --help, and number checks that name the flag.
import { parseArgs, type ParseArgsConfig } from 'node:util';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export interface Parsed {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

// Returns null when --help was asked for (and printed).
export function parseCommand(argv: string[], options: OptionSpec, help: string, allowPositionals = false): Parsed | null {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { ...options, help: { type: 'boolean', short: 'h' } },
    allowPositionals,
    strict: true,
  });
  if (values.help) {
    process.stdout.write(help);
    return null;
  }
  return { values: values as Parsed['values'], positionals };
}

export function numberFlag(values: Parsed['values'], name: string): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(n)) throw new Error(`--${name} expects a number, got "${raw}"`);
  return n;
}

export function intFlag(values: Parsed['values'], name: string): number | undefined {
  const n = numberFlag(values, name);
  if (n !== undefined && !Number.isInteger(n)) throw new Error(`--${name} expects an integer, got ${n}`);
  return n;
}

export function stringFlag(values: Parsed['values'], name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}
