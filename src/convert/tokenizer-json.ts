// A Vocabulary as a Hugging Face `tokenizer.json` in the layout transformers' LlamaConverter
// writes for LLaMA (legacy Llama-2 style), for HF folders whose tokenizer.model bytes we do
// not have. The inverse of vocabularyFromTokenizerJson (formats/huggingface-tokenizer.ts).
//
// Merges are made as HF's SentencePieceExtractor makes them: for every piece that BPE can
// produce, each split into two vocabulary pieces is a merge; merges are listed by the
// score of the piece they make, best first (ties in id order), so that merging by rank
// reproduces SentencePiece's merging by score.
import { PieceType, SPACE_SYMBOL, type Vocabulary } from '../tokenizer/vocabulary.js';

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
