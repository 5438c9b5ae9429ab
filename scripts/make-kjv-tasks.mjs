#!/usr/bin/env node
// Writes the default model's multiple-choice tasks, models/tasks/*.jsonl, from the King James
// Bible text the model was trained on (the corpus of scripts/train-default.sh), with a fixed
// seed: the same text gives the same files.
//
//   kjv-cloze.jsonl          300 verses from the training text: the previous verse and the
//                            first half of a verse; pick its true second half among 4
//                            (3 distractors: second halves of other verses of similar length)
//   kjv-cloze-heldout.jsonl  200 the same, from the end of Revelation, inside the last 2% of
//                            tokens that training held out for validation: never trained on
//   kjv-grammar.jsonl        300 synthetic sentences: "And Moses said unto Aaron, Thou" and
//                            the verb form that agrees with the pronoun (art / is / are / am,
//                            hast / hath / have, ...), the rest of the sentence the same
//   kjv-heldout.txt          the held-out text itself: the last 1.5% of the corpus (Revelation
//                            1:2 to the end), for `llama-ts perplexity`
//
// usage: node scripts/make-kjv-tasks.mjs [CORPUS]   (default build/kjv-train/kjv.txt, made by
// npm run train:default; without it the text is read from `bible` as that script does)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'models', 'tasks');

// The corpus: one verse a line, a blank line between chapters (train-default.sh's awk).
function readCorpus(path) {
  if (existsSync(path)) return readFileSync(path, 'utf8');
  const raw = execFileSync('bible', ['-f', 'Gen1:1-Rev22:21'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const out = [];
  let previous;
  raw.split('\n').forEach((line, i) => {
    const m = /^([1-3]?[A-Za-z]+[0-9]+):[0-9]+ /.exec(line);
    if (!m) return void out.push(line);
    if (i > 0 && m[1] !== previous) out.push('');
    out.push(line.slice(m[0].length));
    previous = m[1];
  });
  return out.join('\n');
}

// mulberry32: a small seeded generator, so the files are reproducible.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const pick = (r, list) => list[Math.floor(r() * list.length)];
function shuffle(r, list) {
  const a = [...list];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

// Verses with the verse before them in the same chapter, split in half by words.
function verses(text) {
  const lines = text.split('\n');
  const out = [];
  let at = 0;
  for (let i = 0; i < lines.length; i++) {
    const words = lines[i].trim().split(/\s+/);
    if (i > 0 && lines[i - 1].trim() && words.length >= 12 && words.length <= 40) {
      const half = Math.floor(words.length / 2);
      out.push({ at, previous: lines[i - 1].trim(), head: words.slice(0, half).join(' '), tail: words.slice(half).join(' '), words: words.length - half });
    }
    at += lines[i].length + 1;
  }
  return out;
}

function cloze(pool, count, r) {
  const items = [];
  for (const v of shuffle(r, pool).slice(0, count)) {
    const similar = pool.filter((o) => o !== v && o.tail !== v.tail && Math.abs(o.words - v.words) <= Math.max(2, v.words * 0.3));
    const distractors = shuffle(r, similar).slice(0, 3).map((o) => o.tail);
    const choices = shuffle(r, [v.tail, ...distractors]);
    items.push({ context: `${v.previous}\n${v.head}`, choices, answer: choices.indexOf(v.tail) });
  }
  return items;
}

// Pronoun-verb agreement in the King James idiom: person → form, for each verb.
const PERSONS = ['Thou', 'He', 'Ye', 'I'];
const VERBS = [
  { forms: ['art', 'is', 'are', 'am'], rest: 'a servant of the LORD.' },
  { forms: ['hast', 'hath', 'have', 'have'], rest: 'seen the works of the LORD.' },
  { forms: ['shalt', 'shall', 'shall', 'shall'], rest: 'go up unto the mount of God.' },
  { forms: ['wilt', 'will', 'will', 'will'], rest: 'keep my commandments.' },
  { forms: ['knowest', 'knoweth', 'know', 'know'], rest: 'the way of the LORD.' },
  { forms: ['sayest', 'saith', 'say', 'say'], rest: 'the word of the LORD.' },
  { forms: ['doest', 'doeth', 'do', 'do'], rest: 'the will of my Father.' },
];
const SPEAKERS = ['Moses', 'Aaron', 'Joshua', 'David', 'Samuel', 'Elijah', 'Peter', 'Paul', 'Jesus', 'Abraham', 'Jacob', 'Nathan', 'Saul', 'John'];
const HEARERS = ['Aaron', 'the people', 'his servants', 'Moses', 'the king', 'his disciples', 'Israel', 'Joseph', 'the priest', 'his brethren'];

function grammar(count, r) {
  const items = [];
  const seen = new Set();
  while (items.length < count) {
    const person = Math.floor(r() * PERSONS.length);
    const verb = pick(r, VERBS);
    const speaker = pick(r, SPEAKERS);
    const hearer = pick(r, HEARERS.filter((h) => h !== speaker));
    const context = `And ${speaker} said unto ${hearer}, ${PERSONS[person]}`;
    const key = `${context}|${verb.rest}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const forms = [...new Set(verb.forms)];
    const choices = forms.map((f) => `${f} ${verb.rest}`);
    items.push({ context, choices, answer: forms.indexOf(verb.forms[person]) });
  }
  return items;
}

const text = readCorpus(process.argv[2] ?? join(ROOT, 'build', 'kjv-train', 'kjv.txt'));
const all = verses(text);
const heldOutFrom = Math.floor(text.length * 0.985); // inside the last 2% of tokens (validation)
const trainedOn = all.filter((v) => v.at < Math.floor(text.length * 0.97));
const heldOut = all.filter((v) => v.at >= heldOutFrom);
const write = (name, items) => {
  writeFileSync(join(OUT, name), items.map((x) => JSON.stringify(x)).join('\n') + '\n');
  console.log(`${name}: ${items.length} items`);
};
mkdirSync(OUT, { recursive: true });
const heldOutText = text.slice(text.indexOf('\n', heldOutFrom) + 1);
writeFileSync(join(OUT, 'kjv-heldout.txt'), heldOutText);
console.log(`kjv-heldout.txt: ${heldOutText.length} characters`);
write('kjv-cloze.jsonl', cloze(trainedOn, 300, rng(1611)));
write('kjv-cloze-heldout.jsonl', cloze(heldOut, 200, rng(1612)));
write('kjv-grammar.jsonl', grammar(300, rng(1613)));
