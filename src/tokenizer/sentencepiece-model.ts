// Reads a SentencePiece .model file: a serialized ModelProto (sentencepiece_model.proto).
//
//   ModelProto      { repeated SentencePiece pieces = 1; TrainerSpec trainer_spec = 2;
//                     NormalizerSpec normalizer_spec = 3; ... }
//   SentencePiece   { string piece = 1; float score = 2; Type type = 3 [default NORMAL]; }
//   TrainerSpec     { ModelType model_type = 3 [default UNIGRAM]; bool treat_whitespace_as_suffix = 24;
//                     bool split_digits = 25; bool byte_fallback = 35;
//                     int32 unk_id = 40 [0]; bos_id = 41 [1]; eos_id = 42 [2]; pad_id = 43 [-1]; ... }
//   NormalizerSpec  { string name = 1; bytes precompiled_charsmap = 2;
//                     bool add_dummy_prefix = 3 [true]; bool remove_extra_whitespaces = 4 [true];
//                     bool escape_whitespaces = 5 [true]; ... }
//
// Fields we do not need are skipped. Only BPE models (model_type 2) are supported.
//
// Normalizers: `identity` needs nothing. The `nfkc` / `nmt_nfkc` normalizers are stored
// as a precompiled character map that we do not interpret; we apply
// String.prototype.normalize('NFKC') instead. That is an approximation: NFKC agrees with
// the map on most text, but nmt_nfkc also maps tabs/newlines to spaces and drops control
// characters, which we do not. (Both LLaMA's tokenizer.model and tok512.model say
// `identity`, so neither is affected.)
import { PieceType, validateVocabulary, type Vocabulary } from './vocabulary.js';
import { ProtoReader, WIRE_FIXED32, WIRE_LEN, WIRE_VARINT, type FieldKey } from './protobuf.js';

const MODEL_TYPE_NAMES: Record<number, string> = { 1: 'UNIGRAM', 2: 'BPE', 3: 'WORD', 4: 'CHAR' };
const MODEL_TYPE_BPE = 2;

export interface TrainerSpec {
  modelType: number; // 1 UNIGRAM, 2 BPE, 3 WORD, 4 CHAR
  unkId: number;
  bosId: number;
  eosId: number;
  padId: number;
  byteFallback: boolean;
  splitDigits: boolean; // a training option only: encoding is the same either way
  treatWhitespaceAsSuffix: boolean;
}

export interface NormalizerSpec {
  name: string;
  addDummyPrefix: boolean;
  removeExtraWhitespaces: boolean;
  escapeWhitespaces: boolean;
}

export interface SentencePieceModel {
  pieces: string[];
  scores: number[];
  types: number[];
  trainer: TrainerSpec;
  normalizer: NormalizerSpec;
}

// Parses the ModelProto, with SentencePiece's defaults for absent fields.
export function parseSentencePieceModel(bytes: Uint8Array, fileName: string): SentencePieceModel {
  const model: SentencePieceModel = {
    pieces: [],
    scores: [],
    types: [],
    trainer: { modelType: 1, unkId: 0, bosId: 1, eosId: 2, padId: -1, byteFallback: false, splitDigits: false, treatWhitespaceAsSuffix: false },
    normalizer: { name: 'identity', addDummyPrefix: true, removeExtraWhitespaces: true, escapeWhitespaces: true },
  };
  if (bytes.length === 0) throw new Error(`${fileName}: empty file is not a SentencePiece model`);
  const r = new ProtoReader(bytes, fileName, 'ModelProto');
  while (!r.atEnd()) {
    const k = r.key();
    if (k.field === 1) {
      r.expect(k, WIRE_LEN, 'pieces');
      readPiece(r.message(`pieces[${model.pieces.length}]`), model);
    } else if (k.field === 2) {
      r.expect(k, WIRE_LEN, 'trainer_spec');
      readTrainerSpec(r.message('trainer_spec'), model.trainer);
    } else if (k.field === 3) {
      r.expect(k, WIRE_LEN, 'normalizer_spec');
      readNormalizerSpec(r.message('normalizer_spec'), model.normalizer);
    } else {
      r.skip(k);
    }
  }
  return model;
}

function readPiece(r: ProtoReader, model: SentencePieceModel): void {
  let piece: string | undefined;
  let score = 0;
  let type: number = PieceType.NORMAL;
  while (!r.atEnd()) {
    const k = r.key();
    if (k.field === 1) {
      r.expect(k, WIRE_LEN, 'piece');
      piece = r.string();
    } else if (k.field === 2) {
      r.expect(k, WIRE_FIXED32, 'score');
      score = r.float32();
    } else if (k.field === 3) {
      r.expect(k, WIRE_VARINT, 'type');
      const at = r.offset;
      type = r.int32();
      if (type < PieceType.NORMAL || type > PieceType.BYTE) r.fail(`type ${type} is not a SentencePiece piece type`, at);
    } else {
      r.skip(k);
    }
  }
  if (piece === undefined) r.fail('missing field piece (1)');
  model.pieces.push(piece);
  model.scores.push(score);
  model.types.push(type);
}

function readTrainerSpec(r: ProtoReader, t: TrainerSpec): void {
  const ints: Record<number, [keyof TrainerSpec, string]> = {
    3: ['modelType', 'model_type'],
    40: ['unkId', 'unk_id'],
    41: ['bosId', 'bos_id'],
    42: ['eosId', 'eos_id'],
    43: ['padId', 'pad_id'],
  };
  const bools: Record<number, [keyof TrainerSpec, string]> = {
    24: ['treatWhitespaceAsSuffix', 'treat_whitespace_as_suffix'],
    25: ['splitDigits', 'split_digits'],
    35: ['byteFallback', 'byte_fallback'],
  };
  while (!r.atEnd()) {
    const k: FieldKey = r.key();
    if (k.field in ints) {
      const [prop, name] = ints[k.field];
      r.expect(k, WIRE_VARINT, name);
      (t[prop] as number) = r.int32();
    } else if (k.field in bools) {
      const [prop, name] = bools[k.field];
      r.expect(k, WIRE_VARINT, name);
      (t[prop] as boolean) = r.bool();
    } else {
      r.skip(k);
    }
  }
}

function readNormalizerSpec(r: ProtoReader, n: NormalizerSpec): void {
  const bools: Record<number, [keyof NormalizerSpec, string]> = {
    3: ['addDummyPrefix', 'add_dummy_prefix'],
    4: ['removeExtraWhitespaces', 'remove_extra_whitespaces'],
    5: ['escapeWhitespaces', 'escape_whitespaces'],
  };
  while (!r.atEnd()) {
    const k = r.key();
    if (k.field === 1) {
      r.expect(k, WIRE_LEN, 'name');
      n.name = r.string();
    } else if (k.field in bools) {
      const [prop, name] = bools[k.field];
      r.expect(k, WIRE_VARINT, name);
      (n[prop] as boolean) = r.bool();
    } else {
      r.skip(k);
    }
  }
}

// Whether a normalizer name means NFKC; throws for normalizers we cannot approximate.
function normalizerIsNfkc(name: string, fileName: string): boolean {
  if (name === '' || name === 'identity') return false;
  if (name === 'nfkc' || name === 'nmt_nfkc') return true;
  throw new Error(`${fileName}: normalizer_spec.name "${name}" is not supported (identity, nfkc, nmt_nfkc are)`);
}

// The tokenizer's view of a .model file. Throws for non-BPE models.
export function vocabularyFromSentencePieceModel(bytes: Uint8Array, fileName: string): Vocabulary {
  const m = parseSentencePieceModel(bytes, fileName);
  const t = m.trainer;
  if (t.modelType !== MODEL_TYPE_BPE) {
    const name = MODEL_TYPE_NAMES[t.modelType] ?? `unknown (${t.modelType})`;
    throw new Error(`${fileName}: trainer_spec.model_type ${name} is not supported; only BPE (2) is`);
  }
  if (t.treatWhitespaceAsSuffix) {
    throw new Error(`${fileName}: trainer_spec.treat_whitespace_as_suffix is not supported`);
  }
  const vocab: Vocabulary = {
    pieces: m.pieces,
    scores: Float32Array.from(m.scores),
    types: Uint8Array.from(m.types),
    unkId: t.unkId,
    bosId: t.bosId,
    eosId: t.eosId,
    padId: t.padId,
    addDummyPrefix: m.normalizer.addDummyPrefix,
    removeExtraWhitespaces: m.normalizer.removeExtraWhitespaces,
    byteFallback: t.byteFallback,
    escapeWhitespaces: m.normalizer.escapeWhitespaces,
    nfkc: normalizerIsNfkc(m.normalizer.name, fileName),
  };
  validateVocabulary(vocab, fileName);
  return vocab;
}
