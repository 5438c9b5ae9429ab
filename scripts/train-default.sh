#!/usr/bin/env bash
# The default llama-ts model: a small LLaMA trained from scratch on the King James Bible.
#
#   corpus     Debian's bible-kjv (`bible -f 'Gen1:1-Rev22:21'`), verse references stripped,
#              one verse per line, one chapter per paragraph (= one document, BOS before it);
#              scripts/kjv-corpus.sh
#   tokenizer  SentencePiece BPE, VOCAB pieces, trained by spm_train with LLaMA's options
#   training   AdamW, cosine to 10 % of the peak lr, weight decay 0.1, clip 1.0, seed 1337,
#              the last 2 % of the tokens held out (Revelation 1:2 on, models/tasks/kjv-heldout.txt):
#              the same settings give the same model, bit for bit at any thread count
#
# Presets (PRESET=...; any variable below overrides its preset's value):
#   v2 (default)  the shipped models/kjv.gguf (bench/results/sweep-default.md chose the shape):
#                 dim 256, 6 layers, 8/4 heads, hidden 704, context 256, 1024 pieces (4.95M
#                 parameters), 3200 steps of 8 × 256 tokens (6.6M tokens, 4.7 epochs), lr 1e-3,
#                 Q8_0; 1 h 30 min on 2 threads of the 2-core machine
#   v1            the model shipped before it: dim 128, 4 layers, 8/4 heads, hidden 352,
#                 context 128, 1024 pieces, 3000 steps of 16 × 128 tokens, lr 1e-3, F32
#
# Variables: DIM LAYERS HEADS KV_HEADS HIDDEN (empty: 2/3·4·dim rounded up to 32) SEQ_LEN VOCAB
# STEPS BATCH LR WARMUP EVAL_EVERY EVAL_BATCHES SAVE_EVERY THREADS (default: all cores; the
# result does not depend on it) BACKEND TYPE (the shipped file's weights: f32, f16, q8_0, ...)
# OUT (default models) NAME (default kjv) RUN_DIR (default build/kjv-train, build/kjv-train-v2)
# CORPUS (default RUN_DIR/kjv.txt from bible-kjv) HELDOUT (default models/tasks/kjv-heldout.txt)
# STOP_AFTER (stop with a checkpoint after that step, as an interruption would).
#
# Output in OUT: NAME.gguf (tokenizer inside), NAME.model, NAME-eval.json (held-out perplexity
# at the model's context and at 128, the old model's), and the run's log.json, loss.svg,
# perplexity.svg, grad-norm.svg, lr.svg. The run itself (checkpoints, tokens) is in RUN_DIR:
# interrupted (Ctrl-C, a kill, a crash), the same command resumes from its last checkpoint
# and ends with the same bits. Needs `npm run build` first, and the packages bible-kjv and
# sentencepiece (apt-get install bible-kjv sentencepiece).
set -euo pipefail
cd "$(dirname "$0")/.."

PRESET="${PRESET:-v2}"
case "$PRESET" in
  v1) P=(128 4 8 4 "" 128 1024 3000 16 1e-3 f32) ;;
  v2) P=(256 6 8 4 "" 256 1024 3200 8 1e-3 q8_0) ;;
  *) echo "PRESET must be v1 or v2, got $PRESET" >&2; exit 1 ;;
esac
DIM="${DIM:-${P[0]}}"; LAYERS="${LAYERS:-${P[1]}}"; HEADS="${HEADS:-${P[2]}}"; KV_HEADS="${KV_HEADS:-${P[3]}}"
HIDDEN="${HIDDEN:-${P[4]}}"; SEQ_LEN="${SEQ_LEN:-${P[5]}}"; VOCAB="${VOCAB:-${P[6]}}"; STEPS="${STEPS:-${P[7]}}"
BATCH="${BATCH:-${P[8]}}"; LR="${LR:-${P[9]}}"; TYPE="${TYPE:-${P[10]}}"
WARMUP="${WARMUP:-$(( STEPS < 2000 ? STEPS / 10 : 200 ))}"
EVAL_EVERY="${EVAL_EVERY:-100}"; EVAL_BATCHES="${EVAL_BATCHES:-8}"; SAVE_EVERY="${SAVE_EVERY:-200}"
OUT="${OUT:-models}"; NAME="${NAME:-kjv}"; RUN_DIR="${RUN_DIR:-build/kjv-train$([ "$PRESET" = v1 ] || echo "-$PRESET")}"
CORPUS="${CORPUS:-$RUN_DIR/kjv.txt}"; HELDOUT="${HELDOUT:-models/tasks/kjv-heldout.txt}"
CLI=(node dist/cli.js)
RUN_FLAGS=(${THREADS:+--threads "$THREADS"} ${BACKEND:+--backend "$BACKEND"})

[ -f dist/cli.js ] || { echo "dist/cli.js is missing: run npm run build first" >&2; exit 1; }
command -v spm_train >/dev/null || { echo "spm_train (Debian package sentencepiece) is not installed" >&2; exit 1; }
mkdir -p "$RUN_DIR" "$OUT"
bash scripts/kjv-corpus.sh "$CORPUS"

# The run's recipe: a RUN_DIR holding another recipe's checkpoint is not resumed into this one.
RECIPE="corpus $(basename "$CORPUS") vocab $VOCAB dim $DIM layers $LAYERS heads $HEADS kv-heads $KV_HEADS hidden ${HIDDEN:-default} seq-len $SEQ_LEN steps $STEPS batch $BATCH lr $LR warmup $WARMUP"
if [ -f "$RUN_DIR/recipe.txt" ] && [ "$(cat "$RUN_DIR/recipe.txt")" != "$RECIPE" ]; then
  echo "$RUN_DIR holds a run of another recipe:" >&2
  echo "  there: $(cat "$RUN_DIR/recipe.txt")" >&2
  echo "  asked: $RECIPE" >&2
  echo "remove it or set RUN_DIR" >&2
  exit 1
fi
echo "$RECIPE" > "$RUN_DIR/recipe.txt"

if [ -f "$RUN_DIR/optimizer.bin" ]; then
  "${CLI[@]}" train --resume "$RUN_DIR" --steps "$STEPS" ${STOP_AFTER:+--stop-after "$STOP_AFTER"} "${RUN_FLAGS[@]}"
else
  "${CLI[@]}" train --out "$RUN_DIR" --vocab "$VOCAB" \
    --dim "$DIM" --layers "$LAYERS" --heads "$HEADS" --kv-heads "$KV_HEADS" ${HIDDEN:+--hidden "$HIDDEN"} --seq-len "$SEQ_LEN" \
    --steps "$STEPS" --batch "$BATCH" --lr "$LR" --warmup "$WARMUP" --min-lr-ratio 0.1 \
    --weight-decay 0.1 --clip 1.0 --seed 1337 --val-fraction 0.02 \
    --eval-every "$EVAL_EVERY" --eval-batches "$EVAL_BATCHES" --save-every "$SAVE_EVERY" \
    ${STOP_AFTER:+--stop-after "$STOP_AFTER"} "${RUN_FLAGS[@]}" "$CORPUS"
fi

# Ctrl-C and --stop-after leave a checkpoint short of STEPS: nothing to ship yet.
DONE="$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).step)' "$RUN_DIR/state.json")"
if [ "$DONE" -lt "$STEPS" ]; then
  echo "stopped at step $DONE of $STEPS; run this script again (same settings) to resume" >&2
  exit 3
fi

# The shipped file: the checkpoint's F32 GGUF as it is, or quantized.
if [ "$TYPE" = f32 ]; then
  cp "$RUN_DIR/model.gguf" "$OUT/$NAME.gguf.tmp"
else
  "${CLI[@]}" quantize "$RUN_DIR/model.gguf" "$OUT/$NAME.gguf.tmp" --type "$TYPE" >&2
fi
mv "$OUT/$NAME.gguf.tmp" "$OUT/$NAME.gguf"
cp "$RUN_DIR/tokenizer.model" "$OUT/$NAME.model"
for f in log.json loss.svg perplexity.svg grad-norm.svg lr.svg; do cp "$RUN_DIR/$f" "$OUT/$f"; done

# Held-out perplexity of the shipped file, with `llama-ts perplexity`'s evaluator: at the
# model's context, and at 128 (the v1 model's context, to compare the two).
ppl() { "${CLI[@]}" perplexity --model "$OUT/$NAME.gguf" --file "$HELDOUT" --context "$1" --json ${THREADS:+--threads "$THREADS"}; }
{
  echo "{\"model\": \"$NAME.gguf\", \"type\": \"$TYPE\", \"heldout\": \"$(basename "$HELDOUT")\", \"recipe\": \"$RECIPE\","
  echo " \"context\": $(ppl "$SEQ_LEN"),"
  echo " \"context128\": $( [ "$SEQ_LEN" -ge 128 ] && ppl 128 || echo null )}"
} > "$OUT/$NAME-eval.json.tmp"
mv "$OUT/$NAME-eval.json.tmp" "$OUT/$NAME-eval.json"
node -e 'const e = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  for (const k of ["context", "context128"]) if (e[k]) console.error(`held-out perplexity at context ${e[k].context}: ${e[k].perplexity.toFixed(3)} ± ${e[k].uncertainty.toFixed(3)} (${e[k].scored} tokens scored)`);' "$OUT/$NAME-eval.json"
echo "wrote $OUT/$NAME.gguf ($TYPE) $OUT/$NAME.model $OUT/$NAME-eval.json and the run's log.json and pictures in $OUT" >&2
"${CLI[@]}" generate --model "$OUT/$NAME.gguf" --prompt 'And God said' --max-tokens 60 --temperature 0.8 --seed 1 ${THREADS:+--threads "$THREADS"}
