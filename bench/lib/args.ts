// Command-line flags of the benches: `--name value` pairs and bare switches, checked
// against what each bench accepts so that a typo is an error, not a silently full run.

export type Flags = Map<string, string | true>;

export function parseFlags(argv: readonly string[], valued: readonly string[], switches: readonly string[]): Flags {
  const flags: Flags = new Map();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new Error(`unexpected argument "${arg}" (flags start with --)`);
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
    if (switches.includes(name) && eq < 0) {
      flags.set(name, true);
    } else if (valued.includes(name)) {
      const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined || value.startsWith('--')) throw new Error(`--${name} needs a value`);
      flags.set(name, value);
    } else {
      const known = [...valued.map((v) => `--${v} VALUE`), ...switches.map((s) => `--${s}`)].join(', ');
      throw new Error(`unknown flag --${name} (known: ${known})`);
    }
  }
  return flags;
}

// A comma-separated list flag, e.g. `--threads 1,2`.
export function listFlag(flags: Flags, name: string, fallback: string[]): string[] {
  const v = flags.get(name);
  if (v === undefined) return fallback;
  if (v === true) throw new Error(`--${name} needs a value`);
  return v.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
}

export function intFlag(flags: Flags, name: string, fallback: number, min = 1, max = 1e9): number {
  const v = flags.get(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new Error(`--${name} must be an integer in ${min}..${max}, got ${String(v)}`);
  return n;
}

// `--only 15M,q4_0`: each term selects a shape or a dtype; a case runs when it matches a
// selected shape (if any shape is named) and a selected dtype (if any dtype is named).
export function selects(only: readonly string[], shape: string, dtype: string, shapes: readonly string[], dtypes: readonly string[]): boolean {
  const terms = only.map((t) => t.toLowerCase());
  for (const t of terms) {
    if (!shapes.some((s) => s.toLowerCase() === t) && !dtypes.includes(t)) {
      throw new Error(`--only: "${t}" is neither a shape (${shapes.join(', ')}) nor a dtype (${dtypes.join(', ')})`);
    }
  }
  const shapeTerms = terms.filter((t) => shapes.some((s) => s.toLowerCase() === t));
  const dtypeTerms = terms.filter((t) => dtypes.includes(t));
  return (shapeTerms.length === 0 || shapeTerms.includes(shape.toLowerCase())) && (dtypeTerms.length === 0 || dtypeTerms.includes(dtype));
}
