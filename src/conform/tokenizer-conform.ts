// `llama-ts conform --tokenizer CASEFILE IDS.jsonl`: a port's tokenizer ids against a golden
// tokenizer case file (golden/tokenizer/*.json: {"cases": [{"text", "ids"}, …]}).
//
// IDS.jsonl has one line per case, in the case file's order: either the ids as a JSON list
// (`[1, 2, 3]`) or an object `{"ids": [...]}`, optionally with the `"text"` it encoded, which
// is then checked against the case's (so a skipped or reordered line is caught, not compared).
import { readFileSync } from 'node:fs';

export interface TokenizerMismatch {
  case: number; // index in the case file, from 0
  text: string;
  message: string; // "ids differ at position 3: 12 vs 11", or where one list ends
}

export interface TokenizerReport {
  file: string;
  ok: boolean;
  cases: number;
  mismatches: TokenizerMismatch[];
}

interface TokenizerCase {
  text: string;
  ids: number[];
}

export function conformTokenizerFiles(caseFile: string, idsFile: string): TokenizerReport {
  const cases = readTokenizerCases(caseFile);
  const ours = readIdLines(idsFile);
  if (ours.length !== cases.length) throw new Error(`${idsFile}: ${ours.length} lines of ids, but ${caseFile} has ${cases.length} cases (one line per case, in order)`);
  const mismatches: TokenizerMismatch[] = [];
  cases.forEach((c, i) => {
    const line = ours[i];
    if (line.text !== undefined && line.text !== c.text) throw new Error(`${idsFile} line ${i + 1}: "text" is ${JSON.stringify(line.text)}, but case ${i} of ${caseFile} is ${JSON.stringify(c.text)}`);
    const message = idsDifference(line.ids, c.ids);
    if (message) mismatches.push({ case: i, text: c.text, message });
  });
  return { file: caseFile, ok: mismatches.length === 0, cases: cases.length, mismatches };
}

// Where two id lists first differ, or null if they are equal.
export function idsDifference(ours: readonly number[], golden: readonly number[]): string | null {
  const n = Math.min(ours.length, golden.length);
  for (let p = 0; p < n; p++) if (ours[p] !== golden[p]) return `ids differ at position ${p}: ${ours[p]} vs ${golden[p]}`;
  if (ours.length === golden.length) return null;
  return ours.length < golden.length
    ? `ids end at position ${n}; golden goes on with ${golden[n]} (${golden.length} ids in all)`
    : `ids go on at position ${n} with ${ours[n]}; golden ends there (${golden.length} ids in all)`;
}

function readTokenizerCases(path: string): TokenizerCase[] {
  const json = parseJson(readFileSync(path, 'utf8'), path);
  if (!json || typeof json !== 'object' || !Array.isArray((json as { cases?: unknown }).cases)) throw new Error(`${path}: expected an object with a "cases" list`);
  return (json as { cases: unknown[] }).cases.map((c, i) => {
    const { text, ids } = (c ?? {}) as { text?: unknown; ids?: unknown };
    if (typeof text !== 'string') throw new Error(`${path}: cases[${i}].text is not a string`);
    return { text, ids: idList(ids, `${path}: cases[${i}].ids`) };
  });
}

function readIdLines(path: string): Array<{ ids: number[]; text?: string }> {
  const lines = readFileSync(path, 'utf8').split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines.map((line, i) => {
    const where = `${path} line ${i + 1}`;
    const value = parseJson(line, where);
    if (Array.isArray(value)) return { ids: idList(value, where) };
    if (value && typeof value === 'object' && 'ids' in value) {
      const { ids, text } = value as { ids: unknown; text?: unknown };
      if (text !== undefined && typeof text !== 'string') throw new Error(`${where}: "text" is not a string`);
      return { ids: idList(ids, `${where}: "ids"`), text: text as string | undefined };
    }
    throw new Error(`${where}: expected a JSON list of ids or an object with "ids"`);
  });
}

function idList(value: unknown, where: string): number[] {
  if (!Array.isArray(value) || value.some((v) => !Number.isInteger(v))) throw new Error(`${where}: expected a list of integer ids`);
  return value as number[];
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${where}: not JSON (${(err as Error).message})`);
  }
}

export function formatTokenizerReport(r: TokenizerReport, shown = 10): string {
  const lines = r.mismatches.slice(0, shown).map((m) => `case ${m.case} ${JSON.stringify(m.text.length > 40 ? `${m.text.slice(0, 40)}…` : m.text)}: ${m.message}`);
  if (r.mismatches.length > shown) lines.push(`… and ${r.mismatches.length - shown} more`);
  lines.push(r.ok
    ? `${r.file}: PASS, all ${r.cases} cases`
    : `${r.file}: FAIL, ${r.mismatches.length} of ${r.cases} cases differ, first at case ${r.mismatches[0].case}`);
  return lines.join('\n') + '\n';
}
