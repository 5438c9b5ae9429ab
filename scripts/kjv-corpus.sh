#!/usr/bin/env bash
# The default model's corpus: Debian's bible-kjv (`bible -f 'Gen1:1-Rev22:21'`), verse
# references stripped ("Ge1:1 In the beginning ..." → "In the beginning ..."), one verse a
# line, a blank line between chapters (one chapter = one document). Written to $1 atomically;
# kept when it is already there. Used by train-default.sh and sweep-default.mjs.
set -euo pipefail
CORPUS="$1"
[ -s "$CORPUS" ] && exit 0
command -v bible >/dev/null || { echo "bible (Debian package bible-kjv) is not installed" >&2; exit 1; }
mkdir -p "$(dirname "$CORPUS")"
bible -f 'Gen1:1-Rev22:21' | awk '
  match($0, /^[1-3]?[A-Za-z]+[0-9]+:[0-9]+ /) {
    ref = substr($0, 1, RLENGTH - 1); text = substr($0, RLENGTH + 1)
    chapter = substr(ref, 1, index(ref, ":") - 1)
    if (NR > 1 && chapter != previous) print ""
    print text; previous = chapter; next
  }
  { print }' > "$CORPUS.tmp"
mv "$CORPUS.tmp" "$CORPUS"
