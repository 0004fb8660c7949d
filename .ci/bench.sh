#!/usr/bin/env bash
# bench.sh — install what is missing (Go too), build optimised, and run the
# benchmark suite: weft beside Go, table on the terminal, JSON and SVG chart
# in bench/results/.  Extra arguments go to bench/run.py (--only, --runs,
# --workers, --quick).
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/deps.sh golang-go || bash .ci/deps.sh   # without root: weft alone
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DWEFT_BUILD_TESTS=OFF >/dev/null
cmake --build build-bench -j"$(nproc)" >/dev/null
exec python3 bench/run.py --build build-bench "$@"
