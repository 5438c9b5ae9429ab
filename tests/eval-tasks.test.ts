// Task files: every shape read into lm-evaluation-harness's prompts, and bad input answered
// with an error naming the file, the line and the field.
import { describe, expect, test } from 'vitest';
import { parseTask, preprocessHellaswag } from '../src/eval/tasks.js';

const jsonl = (...docs: unknown[]) => docs.map((d) => JSON.stringify(d)).join('\n');

describe('task shapes', () => {
  test('HellaSwag: activity label, ctx_a + capitalized ctx_b, WikiHow brackets removed', () => {
    const t = parseTask(jsonl({ activity_label: 'Baking cookies', ctx_a: 'A woman puts flour in a bowl.', ctx_b: 'she THEN', endings: ['mixes it [title] well.', 'sings.'], label: '0' }), 'h.jsonl', 'h');
    expect(t.shape).toBe('hellaswag');
    expect(t.items[0].requests.map((r) => [r.context, r.continuation, r.normText])).toEqual([
      ['Baking cookies: A woman puts flour in a bowl. She then', ' mixes it. well.', 'mixes it. well.'],
      ['Baking cookies: A woman puts flour in a bowl. She then', ' sings.', 'sings.'],
    ]);
    expect(t.items[0].gold).toBe(0);
    expect(preprocessHellaswag(' a [header] b  c ')).toBe('a b c');
    const plain = parseTask(jsonl({ ctx: 'A man sits. he', endings: ['reads.', 'flies.'], label: 1 }), 'h2.jsonl', 'h2');
    expect([plain.items[0].requests[0].context, plain.items[0].gold]).toEqual(['A man sits. he', 1]);
  });

  test('PIQA, ARC, OpenBookQA, BoolQ prompts', () => {
    const piqa = parseTask(jsonl({ goal: 'Open a jar', sol1: 'twist the lid', sol2: 'kick it', label: 0 }), 'p.jsonl', 'p');
    expect(piqa.items[0].requests[1]).toEqual({ context: 'Question: Open a jar\nAnswer:', continuation: ' kick it', normText: 'kick it' });
    const arc = parseTask(jsonl({ question: 'Sky colour?', choices: { text: ['red', 'blue'], label: ['A', 'B'] }, answerKey: 'B' }), 'a.jsonl', 'a');
    expect([arc.shape, arc.items[0].gold, arc.items[0].requests[0].context]).toEqual(['arc', 1, 'Question: Sky colour?\nAnswer:']);
    const obqa = parseTask(jsonl({ question_stem: 'Plants need', choices: { text: ['light', 'rocks'], label: ['A', 'B'] }, answerKey: 'A' }), 'o.jsonl', 'o');
    expect([obqa.shape, obqa.items[0].requests[0].context, obqa.items[0].gold]).toEqual(['openbookqa', 'Plants need', 0]);
    const boolq = parseTask(jsonl({ passage: 'Water is wet.', question: 'is water wet', answer: true }), 'b.jsonl', 'b');
    expect(boolq.items[0].requests.map((r) => r.continuation)).toEqual([' no', ' yes']);
    expect(boolq.items[0].requests[0].context).toBe('Water is wet.\nQuestion: is water wet?\nAnswer:');
    expect(boolq.items[0].gold).toBe(1);
  });

  test('WinoGrande: each option completes the sentence up to _, the rest is the shared continuation', () => {
    const t = parseTask(jsonl({ sentence: 'The cup fell off the table because _ was tilted.', option1: 'the cup', option2: 'the table', answer: '2' }), 'w.jsonl', 'w');
    expect(t.items[0].requests).toEqual([
      { context: 'The cup fell off the table because the cup', continuation: ' was tilted.', normText: 'was tilted.' },
      { context: 'The cup fell off the table because the table', continuation: ' was tilted.', normText: 'was tilted.' },
    ]);
    expect(t.items[0].gold).toBe(1);
  });

  test('generic: answer as an index, a digit string or the choice text; blank lines skipped', () => {
    const t = parseTask(jsonl({ context: 'a', choices: ['x', 'y'], answer: 1 }) + '\n\n' + jsonl({ context: 'b', choices: ['x', 'y'], answer: '0' }, { context: 'c', choices: ['x', 'y'], answer: 'y' }), 'g.jsonl', 'g');
    expect(t.items.map((i) => [i.line, i.gold])).toEqual([[1, 1], [3, 0], [4, 1]]);
  });
});

describe('bad task files', () => {
  const bad: [string, string, RegExp][] = [
    ['a malformed JSON line', jsonl({ context: 'a', choices: ['x', 'y'], answer: 0 }) + '\n{"context": "b", ', /^bad\.jsonl:2: not valid JSON/],
    ['a missing field', jsonl({ goal: 'g', sol1: 'a', label: 0 }), /^bad\.jsonl:1: field "sol2" must be a string, got nothing/],
    ['a label out of range', jsonl({ goal: 'g', sol1: 'a', sol2: 'b', label: 2 }), /^bad\.jsonl:1: field "label" must be a choice index in 0\.\.1, got 2/],
    ['a choice list of one', jsonl({ context: 'a', choices: ['x'], answer: 0 }), /^bad\.jsonl:1: field "choices" has 1 choice; a multiple-choice item needs at least two/],
    ['an unknown shape', jsonl({ prompt: 'a' }), /^bad\.jsonl:1: unknown item shape \(fields prompt\)/],
    ['two shapes in one file', jsonl({ context: 'a', choices: ['x', 'y'], answer: 0 }, { goal: 'g', sol1: 'a', sol2: 'b', label: 0 }), /^bad\.jsonl:2: a piqa item in a file of generic items/],
    ['an answerKey that is no label', jsonl({ question: 'q', choices: { text: ['a', 'b'], label: ['A', 'B'] }, answerKey: 'C' }), /^bad\.jsonl:1: field "answerKey" "C" is none of the labels A, B/],
    ['a WinoGrande sentence without _', jsonl({ sentence: 'no blank', option1: 'a', option2: 'b', answer: '1' }), /^bad\.jsonl:1: field "sentence" has no "_"/],
    ['a BoolQ answer that is not yes/no', jsonl({ passage: 'p', question: 'q', answer: 'maybe' }), /^bad\.jsonl:1: field "answer" must be true\/false/],
    ['an empty file', '\n \n', /^bad\.jsonl: no items \(an empty task file\)/],
    ['a line that is not an object', '[1, 2]', /^bad\.jsonl:1: a line must be a JSON object/],
  ];
  for (const [what, text, message] of bad) {
    test(what, () => {
      expect(() => parseTask(text, 'bad.jsonl', 'bad')).toThrow(message);
    });
  }
});
