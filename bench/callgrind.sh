#!/bin/sh
# callgrind.sh — instructions per pingpong round trip, 1 worker, under
# valgrind's callgrind.
#
#   bench/callgrind.sh BUILD_DIR [BIG] [SMALL]
#
# Runs BUILD_DIR/bench/bench_pingpong twice under
# `valgrind --tool=callgrind` with 1 worker, BIG (default 20000) and SMALL
# (default 10000) round trips, and prints
#
#     (Ir(BIG) - Ir(SMALL)) / (BIG - SMALL)
#
# — the instructions one round trip costs with startup and shutdown
# subtracted out — then the functions that dominate the BIG run.  The count
# is deterministic for a given build, so it is the figure to compare across
# commits (time varies with the machine; instructions barely do).
#
# For accurate stack tracking configure with -DWEFT_VALGRIND=ON (registers
# task stacks with valgrind); the count itself does not need it.
set -eu

usage() { echo "usage: $0 BUILD_DIR [BIG] [SMALL]" >&2; exit 2; }
[ $# -ge 1 ] || usage
BUILD=$1
BIG=${2:-20000}
SMALL=${3:-10000}
[ "$BIG" -gt "$SMALL" ] 2>/dev/null || { echo "$0: BIG must be > SMALL" >&2; exit 2; }
EXE=$BUILD/bench/bench_pingpong
[ -x "$EXE" ] || { echo "$0: $EXE not found: build weft first" >&2; exit 2; }
command -v valgrind >/dev/null 2>&1 || { echo "$0: valgrind not found" >&2; exit 2; }

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM

# Total Ir of a run: the "summary:" (or "totals:") line of the callgrind file.
run_ir() {
    n=$1
    if ! WEFT_PROCS=1 valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.$n" \
            "$EXE" "$n" 1 >"$TMP/out.$n" 2>"$TMP/err.$n"; then
        echo "$0: pingpong $n under callgrind failed:" >&2
        tail -n 20 "$TMP/err.$n" >&2
        exit 1
    fi
    grep -q '^RESULT ' "$TMP/out.$n" || { echo "$0: no RESULT line (n=$n)" >&2; exit 1; }
    ir=$(awk '/^summary:/ {print $2; exit} /^totals:/ {t=$2} END {if (t != "") print t}' \
        "$TMP/cg.$n" | head -n 1)
    [ -n "$ir" ] || { echo "$0: no instruction total in the callgrind output" >&2; exit 1; }
    echo "$ir"
}

echo "callgrind: bench_pingpong, 1 worker, $BIG and $SMALL round trips (this takes a while)" >&2
IR_BIG=$(run_ir "$BIG")
IR_SMALL=$(run_ir "$SMALL")
awk -v b="$IR_BIG" -v s="$IR_SMALL" -v nb="$BIG" -v ns="$SMALL" 'BEGIN {
    printf "Ir(%d round trips) = %d\nIr(%d round trips) = %d\n", nb, b, ns, s
    printf "pingpong, 1 worker: %.1f instructions per round trip\n", (b - s) / (nb - ns)
}'
if command -v callgrind_annotate >/dev/null 2>&1; then
    echo
    echo "top functions (self Ir) of the $BIG-round-trip run:"
    callgrind_annotate --threshold=99 "$TMP/cg.$BIG" 2>/dev/null |
        awk '/file:function/ {h = 1; next}
             h == 1 && /^-+$/ {h = 2; next}
             h == 2 && NF {print; if (++k == 15) exit}'
fi
