#!/usr/bin/env bash
# The default llama-ts model: a small LLaMA trained from scratch on the King James Bible.
#
#   corpus     Debian's bible-kjv (`bible -f 'Gen1:1-Rev22:21'`), verse references stripped,
#              one verse per line, one chapter per paragraph (= one document, BOS before it)
#   tokenizer  SentencePiece BPE, 1024 pieces, trained by spm_train with LLaMA's options
#   model      dim 128, 4 layers, 8 query / 4 key-value heads, hidden 352, context 128:
#              about 1.0M parameters, 4 MB of f32 weights
#   training   AdamW, peak lr 1e-3, 200 warmup steps, cosine to 10 %, batch 16 × 128 tokens,
#              fixed seed: the same flags give the same model
#
# Output: models/kjv.gguf (tokenizer inside), models/kjv.model, models/loss.svg,
# models/log.json. The run itself (checkpoints, tokens) goes to build/kjv-train and resumes
# from there if interrupted (run this script again).
#
# Environment: STEPS (default 3000), BACKEND (default: wasm when built), OUT (default models),
# RUN_DIR (default build/kjv-train). Needs `npm run build` first, and the packages
# bible-kjv and sentencepiece (apt-get install bible-kjv sentencepiece).
set -euo pipefail
cd "$(dirname "$0")/.."

STEPS="${STEPS:-3000}"
OUT="${OUT:-models}"
RUN_DIR="${RUN_DIR:-build/kjv-train}"
CLI=(node dist/cli.js)

[ -f dist/cli.js ] || { echo "dist/cli.js is missing: run npm run build first" >&2; exit 1; }
command -v bible >/dev/null || { echo "bible (Debian package bible-kjv) is not installed" >&2; exit 1; }
command -v spm_train >/dev/null || { echo "spm_train (Debian package sentencepiece) is not installed" >&2; exit 1; }
mkdir -p "$RUN_DIR" "$OUT"

# "Ge1:1 In the beginning ..." → "In the beginning ...", a blank line between chapters.
CORPUS="$RUN_DIR/kjv.txt"
if [ ! -s "$CORPUS" ]; then
  bible -f 'Gen1:1-Rev22:21' | awk '
    match($0, /^[1-3]?[A-Za-z]+[0-9]+:[0-9]+ /) {
      ref = substr($0, 1, RLENGTH - 1); text = substr($0, RLENGTH + 1)
      chapter = substr(ref, 1, index(ref, ":") - 1)
      if (NR > 1 && chapter != previous) print ""
      print text; previous = chapter; next
    }
    { print }' > "$CORPUS.tmp"
  mv "$CORPUS.tmp" "$CORPUS"
fi

if [ -f "$RUN_DIR/optimizer.bin" ]; then
  "${CLI[@]}" train --resume "$RUN_DIR" --steps "$STEPS" ${BACKEND:+--backend "$BACKEND"}
else
  "${CLI[@]}" train --out "$RUN_DIR" --vocab 1024 \
    --dim 128 --layers 4 --heads 8 --kv-heads 4 --seq-len 128 \
    --steps "$STEPS" --batch 16 --lr 1e-3 --warmup "$(( STEPS < 2000 ? STEPS / 10 : 200 ))" --min-lr-ratio 0.1 \
    --weight-decay 0.1 --clip 1.0 --seed 1337 --val-fraction 0.02 \
    --eval-every 100 --eval-batches 8 --save-every 200 \
    ${BACKEND:+--backend "$BACKEND"} "$CORPUS"
fi

cp "$RUN_DIR/model.gguf" "$OUT/kjv.gguf"
cp "$RUN_DIR/tokenizer.model" "$OUT/kjv.model"
cp "$RUN_DIR/loss.svg" "$OUT/loss.svg"
cp "$RUN_DIR/log.json" "$OUT/log.json"
echo "wrote $OUT/kjv.gguf $OUT/kjv.model $OUT/loss.svg $OUT/log.json" >&2
"${CLI[@]}" generate --model "$OUT/kjv.gguf" --prompt 'And God said' --max-tokens 60 --temperature 0.8 --seed 1
