// What the rest of llama-ts needs of a tokenizer, whichever kind it is: SentencePiece BPE
// (tokenizer.ts, LLaMA 1 and 2) or byte-level BPE (byte-level-bpe.ts, LLaMA 3). Generation
// (src/generate) and sessions use only this.

export interface TextEncodeOptions {
  bos?: boolean; // begin with BOS (byte-level: where the vocabulary's add_bos_token says so)
  eos?: boolean; // end with EOS
}

export interface TextStreamDecoder {
  push(id: number): string; // the text that `id` completes (may be "": bytes of a character held back)
  flush(): string; // whatever is held back at the end
}

export interface TextTokenizer {
  readonly vocabSize: number;
  encode(text: string, options?: TextEncodeOptions): number[];
  decode(ids: number[]): string;
  createStreamDecoder(): TextStreamDecoder;
  isEndOfGeneration(id: number): boolean; // generation stops at this token (EOS, end of turn...)
}

// Whole-sequence decoding is the stream decoder run to the end, so the two can never differ.
export function decodeAll(decoder: TextStreamDecoder, ids: number[]): string {
  let text = '';
  for (const id of ids) text += decoder.push(id);
  return text + decoder.flush();
}
