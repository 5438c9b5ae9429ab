// Multiple-choice task files (JSON Lines), read into one common shape with
// lm-evaluation-harness's prompts. Each item becomes requests (context, continuation): the
// model's score for a choice is log P(continuation | context), summed over its tokens.
//
//   shape        fields                                    context                                 continuations
//   hellaswag    ctx_a, ctx_b (or ctx), [activity_label],   preprocess(activity_label + ": " + ctx) " " + preprocess(ending)
//                endings, label
//   piqa         goal, sol1, sol2, label                   "Question: {goal}\nAnswer:"              " " + sol1 / sol2
//   arc          question, choices.text/label, answerKey   "Question: {question}\nAnswer:"          " " + text
//   openbookqa   question_stem, choices.text/label, answerKey  question_stem                         " " + text
//   boolq        passage, question, answer (bool, yes/no)  "{passage}\nQuestion: {question}?\nAnswer:" " no" / " yes"
//   winogrande   sentence (with _), option1/2, answer      sentence up to _ with the option         " " + the rest after _
//   generic      context, choices, answer (index or text)  context                                 " " + choice
//
// WinoGrande is "partial" scoring: the contexts differ and the continuation is the same.

export type TaskShape = 'hellaswag' | 'piqa' | 'arc' | 'openbookqa' | 'boolq' | 'winogrande' | 'generic';

export interface ChoiceRequest {
  context: string; // without any few-shot prefix
  continuation: string; // begins with the delimiter " "
  normText: string; // what acc_norm's length counts: the choice (or WinoGrande's rest) without the delimiter
}

export interface TaskItem {
  line: number; // 1-based line in the file
  requests: ChoiceRequest[]; // one per choice, at least two
  gold: number; // index of the right choice
}

export interface Task {
  name: string; // the file's base name without .jsonl
  file: string;
  shape: TaskShape;
  items: TaskItem[];
}

const MAX_ITEMS = 1_000_000;
const MAX_CHOICES = 64;

export function parseTask(text: string, file: string, name: string): Task {
  const items: TaskItem[] = [];
  let shape: TaskShape | undefined;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i].trim();
    if (!raw) continue;
    const where = `${file}:${i + 1}`;
    let doc: unknown;
    try {
      doc = JSON.parse(raw);
    } catch (e) {
      throw new Error(`${where}: not valid JSON (${(e as Error).message})`);
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error(`${where}: a line must be a JSON object`);
    const d = doc as Record<string, unknown>;
    const s = detectShape(d);
    if (!s) throw new Error(`${where}: unknown item shape (fields ${Object.keys(d).join(', ') || 'none'}); expected hellaswag, piqa, arc, openbookqa, boolq, winogrande or {context, choices, answer}`);
    if (shape && s !== shape) throw new Error(`${where}: a ${s} item in a file of ${shape} items`);
    shape = s;
    const item = READERS[s](d, where);
    if (item.requests.length < 2) throw new Error(`${where}: field "${s === 'hellaswag' ? 'endings' : 'choices'}" has ${item.requests.length} choice; a multiple-choice item needs at least two`);
    if (item.requests.length > MAX_CHOICES) throw new Error(`${where}: ${item.requests.length} choices, more than ${MAX_CHOICES}`);
    items.push({ line: i + 1, ...item });
    if (items.length > MAX_ITEMS) throw new Error(`${file}: more than ${MAX_ITEMS} items`);
  }
  if (!shape || items.length === 0) throw new Error(`${file}: no items (an empty task file)`);
  return { name, file, shape, items };
}

function detectShape(d: Record<string, unknown>): TaskShape | undefined {
  if ('endings' in d) return 'hellaswag';
  if ('sol1' in d) return 'piqa';
  if ('question_stem' in d) return 'openbookqa';
  if ('answerKey' in d) return 'arc';
  if ('passage' in d) return 'boolq';
  if ('option1' in d) return 'winogrande';
  if ('choices' in d && 'context' in d) return 'generic';
  return undefined;
}

type Reader = (d: Record<string, unknown>, where: string) => Omit<TaskItem, 'line'>;

const READERS: Record<TaskShape, Reader> = {
  hellaswag(d, w) {
    // The harness builds ctx_a + " " + ctx_b.capitalize(); `ctx` alone (ctx_a + " " + ctx_b) when they are absent.
    const ctx = 'ctx_a' in d ? `${str(d, 'ctx_a', w)} ${capitalize(str(d, 'ctx_b', w))}` : str(d, 'ctx', w);
    const label = typeof d.activity_label === 'string' ? d.activity_label + ': ' : '';
    const endings = strings(d, 'endings', w).map(preprocessHellaswag);
    return choices(preprocessHellaswag(label + ctx), endings, index(d, 'label', endings.length, w));
  },
  piqa(d, w) {
    return choices(`Question: ${str(d, 'goal', w)}\nAnswer:`, [str(d, 'sol1', w), str(d, 'sol2', w)], index(d, 'label', 2, w));
  },
  arc(d, w) {
    const { texts, gold } = lettered(d, w);
    return choices(`Question: ${str(d, 'question', w)}\nAnswer:`, texts, gold);
  },
  openbookqa(d, w) {
    const { texts, gold } = lettered(d, w);
    return choices(str(d, 'question_stem', w), texts, gold);
  },
  boolq(d, w) {
    const a = d.answer;
    const yes = a === true || a === 'yes' || a === 'true' ? 1 : a === false || a === 'no' || a === 'false' ? 0 : -1;
    if (yes < 0) throw new Error(`${w}: field "answer" must be true/false or "yes"/"no", got ${JSON.stringify(a)}`);
    return choices(`${str(d, 'passage', w)}\nQuestion: ${str(d, 'question', w)}?\nAnswer:`, ['no', 'yes'], yes);
  },
  winogrande(d, w) {
    const sentence = str(d, 'sentence', w);
    const blank = sentence.indexOf('_');
    if (blank < 0) throw new Error(`${w}: field "sentence" has no "_" to fill`);
    const rest = sentence.slice(blank + 1).trim();
    if (!rest) throw new Error(`${w}: field "sentence" has nothing after "_" to score`);
    const options = [str(d, 'option1', w), str(d, 'option2', w)];
    const a = d.answer;
    const gold = a === '1' || a === 1 ? 0 : a === '2' || a === 2 ? 1 : -1;
    if (gold < 0) throw new Error(`${w}: field "answer" must be "1" or "2", got ${JSON.stringify(a)}`);
    return { gold, requests: options.map((o) => ({ context: sentence.slice(0, blank) + o, continuation: ' ' + rest, normText: rest })) };
  },
  generic(d, w) {
    const texts = strings(d, 'choices', w);
    const a = d.answer;
    const gold = typeof a === 'string' && !/^\d+$/.test(a) ? texts.indexOf(a) : index(d, 'answer', texts.length, w);
    if (gold < 0) throw new Error(`${w}: field "answer" ${JSON.stringify(a)} is none of the choices`);
    return choices(str(d, 'context', w), texts, gold);
  },
};

function choices(context: string, texts: string[], gold: number): Omit<TaskItem, 'line'> {
  return { gold, requests: texts.map((t) => ({ context, continuation: ' ' + t, normText: t })) };
}

function str(d: Record<string, unknown>, field: string, where: string): string {
  const v = d[field];
  if (typeof v !== 'string') throw new Error(`${where}: field "${field}" must be a string, got ${v === undefined ? 'nothing' : JSON.stringify(v)}`);
  return v;
}

function strings(d: Record<string, unknown>, field: string, where: string): string[] {
  const v = d[field];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new Error(`${where}: field "${field}" must be an array of strings`);
  return v as string[];
}

// An index 0..n-1, given as a number or a string of digits.
function index(d: Record<string, unknown>, field: string, n: number, where: string): number {
  const v = d[field];
  const i = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof i !== 'number' || !Number.isInteger(i) || i < 0 || i >= n) throw new Error(`${where}: field "${field}" must be a choice index in 0..${n - 1}, got ${JSON.stringify(v)}`);
  return i;
}

// ARC / OpenBookQA: choices {text: [...], label: ["A", ...]} and answerKey among the labels.
function lettered(d: Record<string, unknown>, where: string): { texts: string[]; gold: number } {
  const c = d.choices;
  if (typeof c !== 'object' || c === null) throw new Error(`${where}: field "choices" must be an object {text, label}`);
  const texts = strings(c as Record<string, unknown>, 'text', where);
  const labels = strings(c as Record<string, unknown>, 'label', where);
  if (labels.length !== texts.length) throw new Error(`${where}: field "choices" has ${texts.length} texts but ${labels.length} labels`);
  const gold = labels.indexOf(String(d.answerKey));
  if (gold < 0) throw new Error(`${where}: field "answerKey" ${JSON.stringify(d.answerKey)} is none of the labels ${labels.join(', ')}`);
  return { texts, gold };
}

// lm-evaluation-harness's HellaSwag cleanup of WikiHow artefacts.
export function preprocessHellaswag(text: string): string {
  return text.trim().replaceAll(' [title]', '. ').replace(/\[.*?\]/g, '').replaceAll('  ', ' ');
}

const capitalize = (s: string) => (s ? s[0].toUpperCase() + s.slice(1).toLowerCase() : s);
