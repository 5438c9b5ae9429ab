// A LLaMA-style Hugging Face `tokenizer.json` (the "fast" tokenizer that transformers'
// LlamaConverter makes from tokenizer.model) as our SentencePiece Vocabulary, read and written.
//
//   model          { type: "BPE", vocab: {piece: id}, merges: ["a b"] or [["a", "b"]],
//                    unk_token, byte_fallback }
//   normalizer     Sequence[Prepend("▁"), Replace(" " → "▁")]      (older files), or
//   pre_tokenizer  Metaspace(replacement "▁", prepend_scheme "first"/"always")  (newer)
//   added_tokens   [{ id, content, special }]: <unk>, <s>, </s>, and any user additions
//
// BOS/EOS/padding spellings live beside it in tokenizer_config.json (tokenizerJsonSpecials).
//
// Scores. SentencePiece BPE merges the adjacent pair whose concatenation has the highest
// score; HF BPE merges the pair of lowest merge rank. LlamaConverter lists the merges
// sorted by the score of the merged piece, so ranks and scores carry the same order. We
// invert that: the k-th distinct piece produced by the merge list (in rank order) gets
// score −k, so the merge of rank r yields a piece of score ≥ −r and the best merge wins
// in both encoders. Pieces no merge produces (single characters) follow with lower scores
// in id order, as SentencePiece lays them out; their scores never decide a merge. Byte,
// control and unknown pieces get 0, as in a .model file. (llama.cpp's convert_hf_to_gguf
// gives every piece −1000 when only tokenizer.json exists, which loses the merge order.)
//
// Writing (for HF folders whose tokenizer.model bytes we do not have) uses the layout
// LlamaConverter writes for LLaMA (legacy Llama-2 style). Merges are made as HF's
// SentencePieceExtractor makes them: for every piece that BPE can produce, each split into
// two vocabulary pieces is a merge; merges are listed by the score of the piece they make,
// best first (ties in id order), so that merging by rank reproduces merging by score.
import { PieceType, SPACE_SYMBOL, pieceByte, validateVocabulary, type Vocabulary } from './vocabulary.js';

export interface TokenizerJsonSpecials {
  bosToken?: string; // e.g. "<s>" (from tokenizer_config.json); default "<s>"
  eosToken?: string; // default "</s>"
  padToken?: string;
  addBosToken?: boolean; // tokenizer_config.json's add_bos_token (byte-level BPE reads it)
}

type Json = Record<string, unknown>;

export function vocabularyFromTokenizerJson(text: string, fileName: string, specials: TokenizerJsonSpecials = {}): Vocabulary {
  const root = parseObject(text, fileName);
  const model = field(root, 'model', fileName) as Json;
  if (typeof model !== 'object' || model === null) throw new Error(`${fileName}: "model" is not an object`);
  if (model.type !== 'BPE') throw new Error(`${fileName}: model.type is ${JSON.stringify(model.type)}; only "BPE" (SentencePiece-style LLaMA) is supported`);
  // LLaMA 3 / GPT-2 style byte-level BPE splits text differently (the place to add it); refuse rather than guess.
  if (components(root.pre_tokenizer, 'pretokenizers').some((p) => p.type === 'ByteLevel')) {
    throw new Error(`${fileName}: pre_tokenizer ByteLevel (GPT-2 / LLaMA 3 byte-level BPE) is not supported; only SentencePiece-style LLaMA tokenizers are`);
  }
  return sentencePieceFromTokenizerJson(root, model, fileName, specials);
}

// BOS/EOS/padding spellings from a tokenizer_config.json's text (strings or {content} objects).
export function tokenizerJsonSpecials(text: string, fileName: string): TokenizerJsonSpecials {
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${fileName}: not valid JSON (${(e as Error).message})`);
  }
  const token = (key: string): string | undefined => {
    const v = j?.[key];
    if (typeof v === 'string') return v;
    if (typeof v === 'object' && v !== null && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
    return undefined;
  };
  const addBos = j?.add_bos_token;
  return {
    bosToken: token('bos_token'), eosToken: token('eos_token'), padToken: token('pad_token'),
    addBosToken: typeof addBos === 'boolean' ? addBos : undefined,
  };
}

// A Metaspace/Replace("▁") tokenizer: SentencePiece BPE, as LlamaConverter writes it.
function sentencePieceFromTokenizerJson(root: Json, model: Json, fileName: string, specials: TokenizerJsonSpecials): Vocabulary {
  checkSpacesEscaped(root, fileName);
  const pieces = readPieces(model, root, fileName);
  const idOf = new Map(pieces.map((p, id) => [p, id]));
  const types = pieceTypes(pieces, idOf, model, root, fileName);
  const scores = scoresFromMerges(pieces, idOf, types, readMerges(model, fileName));
  // A named special token must exist; an unnamed one takes LLaMA's spelling if present.
  const special = (name: string | undefined, fallback: string | undefined, field: string): number => {
    const piece = name ?? fallback;
    const id = piece === undefined ? undefined : idOf.get(piece);
    if (id === undefined && name !== undefined) throw new Error(`${fileName}: ${field} ${JSON.stringify(name)} is not in the vocabulary`);
    return id ?? -1;
  };
  const unkName = typeof model.unk_token === 'string' ? model.unk_token : undefined;
  const vocab: Vocabulary = {
    pieces,
    scores,
    types,
    unkId: special(unkName, '<unk>', 'model.unk_token'),
    bosId: special(specials.bosToken, '<s>', 'bos_token'),
    eosId: special(specials.eosToken, '</s>', 'eos_token'),
    padId: special(specials.padToken, undefined, 'pad_token'),
    addDummyPrefix: addsDummyPrefix(root),
    removeExtraWhitespaces: false,
    byteFallback: model.byte_fallback === true,
    escapeWhitespaces: true,
  };
  validateVocabulary(vocab, fileName);
  return vocab;
}

function parseObject(text: string, fileName: string): Json {
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch (e) {
    throw new Error(`${fileName}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof root !== 'object' || root === null || Array.isArray(root)) throw new Error(`${fileName}: not a JSON object`);
  return root as Json;
}

function field(o: Json, name: string, fileName: string): unknown {
  if (!(name in o)) throw new Error(`${fileName}: missing field "${name}"`);
  return o[name];
}

// Components of a normalizer/pre-tokenizer: itself, or the members of a Sequence.
function components(c: unknown, key: 'normalizers' | 'pretokenizers'): Json[] {
  if (typeof c !== 'object' || c === null) return [];
  const o = c as Json;
  if (o.type === 'Sequence' && Array.isArray(o[key])) return (o[key] as unknown[]).flatMap((x) => components(x, key));
  return [o];
}

// SentencePiece's spaces: a Replace(" " → "▁") normalizer or a Metaspace pre-tokenizer.
function checkSpacesEscaped(root: Json, fileName: string): void {
  const spaces =
    components(root.normalizer, 'normalizers').some((n) => n.type === 'Replace' && replacesSpace(n)) ||
    components(root.pre_tokenizer, 'pretokenizers').some((p) => p.type === 'Metaspace');
  if (!spaces) {
    throw new Error(`${fileName}: neither a Replace(" " → "${SPACE_SYMBOL}") normalizer nor a Metaspace pre_tokenizer: not a SentencePiece-style LLaMA tokenizer`);
  }
}

function replacesSpace(n: Json): boolean {
  const pattern = n.pattern as Json | undefined;
  return pattern?.String === ' ' && n.content === SPACE_SYMBOL;
}

// Whether "▁" is put in front of the text: Prepend("▁") normalizer, or a Metaspace with
// add_prefix_space (older) or prepend_scheme "first"/"always" (newer).
function addsDummyPrefix(root: Json): boolean {
  if (components(root.normalizer, 'normalizers').some((n) => n.type === 'Prepend' && n.prepend === SPACE_SYMBOL)) return true;
  return components(root.pre_tokenizer, 'pretokenizers').some((p) =>
    p.type === 'Metaspace' && (p.add_prefix_space === true || p.prepend_scheme === 'first' || p.prepend_scheme === 'always'));
}

// Pieces by id: model.vocab plus added tokens beyond it. Ids must be 0..V-1, each once.
function readPieces(model: Json, root: Json, fileName: string): string[] {
  const vocab = model.vocab;
  if (typeof vocab !== 'object' || vocab === null || Array.isArray(vocab)) throw new Error(`${fileName}: model.vocab is not an object`);
  const byId = new Map<number, string>();
  const put = (piece: string, id: unknown, where: string) => {
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) throw new Error(`${fileName}: ${where} id ${String(id)} is not a non-negative integer`);
    const old = byId.get(id);
    if (old !== undefined && old !== piece) throw new Error(`${fileName}: ${where}: id ${id} is both ${JSON.stringify(old)} and ${JSON.stringify(piece)}`);
    byId.set(id, piece);
  };
  for (const [piece, id] of Object.entries(vocab as Json)) put(piece, id, `model.vocab[${JSON.stringify(piece)}]`);
  for (const [i, t] of addedTokens(root, fileName).entries()) put(t.content, t.id, `added_tokens[${i}]`);
  const n = byId.size;
  const pieces: string[] = new Array(n);
  for (const [id, piece] of byId) {
    if (id >= n) throw new Error(`${fileName}: token ids are not contiguous: id ${id} with only ${n} tokens`);
    pieces[id] = piece;
  }
  return pieces;
}

interface AddedToken {
  id: number;
  content: string;
  special: boolean;
}

function addedTokens(root: Json, fileName: string): AddedToken[] {
  const list = root.added_tokens ?? [];
  if (!Array.isArray(list)) throw new Error(`${fileName}: added_tokens is not a list`);
  return list.map((t, i) => {
    const o = t as Json;
    if (typeof o !== 'object' || o === null || typeof o.content !== 'string') throw new Error(`${fileName}: added_tokens[${i}] has no content`);
    return { id: o.id as number, content: o.content, special: o.special === true };
  });
}

function pieceTypes(pieces: string[], idOf: Map<string, number>, model: Json, root: Json, fileName: string): Uint8Array {
  const types = new Uint8Array(pieces.length).fill(PieceType.NORMAL); // [V]
  const byteFallback = model.byte_fallback === true;
  pieces.forEach((p, id) => {
    if (byteFallback && pieceByte(p) >= 0) types[id] = PieceType.BYTE;
  });
  for (const t of addedTokens(root, fileName)) types[t.id] = t.special ? PieceType.CONTROL : PieceType.USER_DEFINED;
  const unk = idOf.get(typeof model.unk_token === 'string' ? model.unk_token : '<unk>');
  if (unk !== undefined) types[unk] = PieceType.UNKNOWN;
  return types;
}

// Merges as [left, right] pairs in rank order; both spellings of the list are accepted.
function readMerges(model: Json, fileName: string): [string, string][] {
  const merges = model.merges ?? [];
  if (!Array.isArray(merges)) throw new Error(`${fileName}: model.merges is not a list`);
  return merges.map((m, rank) => {
    if (typeof m === 'string') {
      const space = m.indexOf(' ');
      if (space <= 0) throw new Error(`${fileName}: model.merges[${rank}] ${JSON.stringify(m)} is not "left right"`);
      return [m.slice(0, space), m.slice(space + 1)];
    }
    if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') return [m[0], m[1]];
    throw new Error(`${fileName}: model.merges[${rank}] is neither "left right" nor ["left", "right"]`);
  });
}

// See the header: distinct merge results in rank order get 0, −1, −2, ...; other normal
// pieces continue below them in id order; byte/control/unknown pieces get 0.
function scoresFromMerges(pieces: string[], idOf: Map<string, number>, types: Uint8Array, merges: [string, string][]): Float32Array {
  const scores = new Float32Array(pieces.length); // [V]
  const scored = new Uint8Array(pieces.length); // [V] 1 once a score is given
  let next = 0;
  for (const [a, b] of merges) {
    const id = idOf.get(a + b);
    if (id === undefined || scored[id]) continue;
    scores[id] = -next++;
    scored[id] = 1;
  }
  for (let id = 0; id < pieces.length; id++) {
    if (scored[id] || types[id] !== PieceType.NORMAL) continue;
    scores[id] = -next++;
  }
  return scores;
}

// The vocabulary as a tokenizer.json (see the header).
export function vocabularyToTokenizerJson(vocab: Vocabulary): string {
  const special = (id: number) => (id >= 0 ? vocab.pieces[id] : null);
  const added = vocab.pieces.flatMap((content, id) => {
    const t = vocab.types[id];
    if (t !== PieceType.CONTROL && t !== PieceType.UNKNOWN && t !== PieceType.USER_DEFINED) return [];
    return [{ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: t !== PieceType.USER_DEFINED }];
  });
  const normalizers: unknown[] = [];
  if (vocab.addDummyPrefix) normalizers.push({ type: 'Prepend', prepend: SPACE_SYMBOL });
  normalizers.push({ type: 'Replace', pattern: { String: ' ' }, content: SPACE_SYMBOL });
  const bos = special(vocab.bosId);
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: { type: 'Sequence', normalizers },
    pre_tokenizer: null,
    post_processor: bos === null ? null : {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: bos, type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { [bos]: { id: bos, ids: [vocab.bosId], tokens: [bos] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: SPACE_SYMBOL }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        ...(vocab.addDummyPrefix ? [{ type: 'Strip', content: ' ', start: 1, stop: 0 }] : []),
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: vocab.pieces[vocab.unkId],
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: vocab.byteFallback,
      vocab: Object.fromEntries(vocab.pieces.map((p, id) => [p, id])),
      merges: mergesOf(vocab),
    },
  };
  return JSON.stringify(json, null, 2) + '\n';
}

// "left right" merges, best-scoring result first (stable: ties keep piece id order, and
// the splits of one piece are ordered by the ids of their halves).
export function mergesOf(vocab: Vocabulary): string[] {
  const idOf = new Map(vocab.pieces.map((p, id) => [p, id]));
  const merges: { left: string; right: string; score: number }[] = [];
  vocab.pieces.forEach((piece, id) => {
    const t = vocab.types[id];
    if (t !== PieceType.NORMAL && t !== PieceType.UNUSED) return;
    const chars = Array.from(piece); // code points, as Python slices strings
    const local: { left: string; right: string; score: number }[] = [];
    for (let i = 1; i < chars.length; i++) {
      const left = chars.slice(0, i).join(''), right = chars.slice(i).join('');
      if (idOf.has(left) && idOf.has(right)) local.push({ left, right, score: vocab.scores[id] });
    }
    local.sort((a, b) => idOf.get(a.left)! - idOf.get(b.left)! || idOf.get(a.right)! - idOf.get(b.right)!);
    merges.push(...local);
  });
  merges.sort((a, b) => b.score - a.score); // Array.prototype.sort is stable
  return merges.map((m) => `${m.left} ${m.right}`);
}
