// Training a tokenizer as the LLaMA paper did: SentencePiece BPE with digits split into
// single characters and byte fallback for anything unseen, run through the `spm_train`
// program (Debian/Ubuntu package `sentencepiece`). The options that make it LLaMA's:
//
//   --model_type=bpe --split_digits=true --byte_fallback=true --character_coverage=1.0
//   --normalization_rule_name=identity --remove_extra_whitespaces=false
//   --add_dummy_prefix=true --allow_whitespace_only_pieces=true
//
// and the ones that make it deterministic: one thread, no sampling or shuffling of the
// input sentences. spm_train reads its input one line per sentence, so the documents'
// lines are its sentences. unk/bos/eos are 0/1/2 (SentencePiece's defaults, LLaMA's ids).
import { spawnSync } from 'node:child_process';
import { existsSync, renameSync } from 'node:fs';

export interface SpmTrainOptions {
  inputs: string[]; // text files
  modelPath: string; // where the .model goes (must end in .model)
  vocabSize: number;
  program?: string; // default 'spm_train'
}

export function spmTrainArgs(o: SpmTrainOptions, prefix: string): string[] {
  return [
    `--input=${o.inputs.join(',')}`,
    `--model_prefix=${prefix}`,
    '--model_type=bpe',
    `--vocab_size=${o.vocabSize}`,
    '--split_digits=true',
    '--byte_fallback=true',
    '--character_coverage=1.0',
    '--normalization_rule_name=identity',
    '--remove_extra_whitespaces=false',
    '--add_dummy_prefix=true',
    '--allow_whitespace_only_pieces=true',
    '--num_threads=1',
    '--input_sentence_size=100000000',
    '--shuffle_input_sentence=false',
    '--max_sentence_length=16384',
    // A small corpus may not have enough merges for the asked size; take what it has.
    '--hard_vocab_limit=false',
    '--unk_id=0', '--bos_id=1', '--eos_id=2', '--pad_id=-1',
  ];
}

// Runs spm_train; writes `modelPath` (and removes its .vocab listing). Throws with
// spm_train's own last lines when it fails or is not installed.
export function trainSentencePiece(o: SpmTrainOptions): void {
  if (!o.modelPath.endsWith('.model')) throw new Error(`tokenizer output ${o.modelPath} must end in .model`);
  if (!Number.isSafeInteger(o.vocabSize) || o.vocabSize < 260) {
    throw new Error(`--vocab ${o.vocabSize}: a byte-fallback tokenizer needs at least 260 pieces (3 special, 256 bytes, 1 more)`);
  }
  const prefix = `${o.modelPath.slice(0, -'.model'.length)}.tmp-${process.pid}`;
  const program = o.program ?? 'spm_train';
  const r = spawnSync(program, spmTrainArgs(o, prefix), { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) {
    throw new Error(`could not run ${program} (${r.error.message}); install SentencePiece (apt-get install sentencepiece) or pass --tokenizer FILE`);
  }
  if (r.status !== 0 || !existsSync(`${prefix}.model`)) {
    const tail = (r.stderr ?? '').trim().split('\n').slice(-5).join('\n');
    throw new Error(`${program} failed (exit ${r.status}):\n${tail}`);
  }
  renameSync(`${prefix}.model`, o.modelPath);
  renameSync(`${prefix}.vocab`, `${o.modelPath.slice(0, -'.model'.length)}.vocab`);
}
