#!/usr/bin/env bash
# test.sh — install what is missing, build, and run the whole test suite in
# every configuration CI covers.  The README's test command; .ci/run calls it.
#
#   legs (WEFT_CI_LEGS, default all): release ucontext asan tsan tsan-gcc aarch64 bench
#   WEFT_STRESS_SCALE  scales the stress tests (default 1)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
legs=${WEFT_CI_LEGS:-"release ucontext asan tsan tsan-gcc aarch64 bench"}
jobs=$(nproc)
# libdw-dev: task backtraces symbolized with file and line (sched/diag/symbolize.c);
# gdb: the gdb extension's test (tests/test_gdb.py).
bash .ci/deps.sh clang libclang-rt-14-dev valgrind golang-go libdw-dev gdb

start=$(date +%s)
summary=()
fail=0

run_leg() { # name, then the command
  local name=$1; shift
  local t0=$(date +%s)
  echo "=== leg $name"
  if "$@"; then
    summary+=("PASS  $name  $(( $(date +%s) - t0 ))s")
  else
    summary+=("FAIL  $name  $(( $(date +%s) - t0 ))s")
    fail=1
  fi
}

build_and_test() { # dir, ctest label filter, cmake args...
  local dir=$1 filter=$2; shift 2
  cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null &&
  cmake --build "$dir" -j"$jobs" >/dev/null &&
  (cd "$dir" && ctest --output-on-failure -j"$jobs" $filter)
}

for leg in $legs; do
  case $leg in
    release)  # gcc, assembly switch: unit and stress tests; then the diagnostics
              # again in a build without libdw (dladdr names only)
      run_leg release build_and_test build-ci-release "-LE slow" -DCMAKE_C_COMPILER=gcc
      run_leg release-nolibdw build_and_test build-ci-nolibdw "-R diag|backtrace|examples|gdb" \
        -DCMAKE_C_COMPILER=gcc -DWEFT_LIBDW=OFF ;;
    ucontext) # clang, the portable fallback switch
      run_leg ucontext build_and_test build-ci-ucontext "-LE slow|stress" \
        -DCMAKE_C_COMPILER=clang -DWEFT_SWITCH=ucontext ;;
    asan)     # gcc, AddressSanitizer + UndefinedBehaviorSanitizer
      run_leg asan env ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        bash -c "$(declare -f build_and_test); root=$root jobs=$jobs build_and_test build-ci-asan '-LE slow' -DCMAKE_C_COMPILER=gcc -DWEFT_ASAN=ON" ;;
    tsan)     # clang, ThreadSanitizer (fibers annotated)
      run_leg tsan env TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
        bash -c "$(declare -f build_and_test); root=$root jobs=$jobs build_and_test build-ci-tsan '-LE slow' -DCMAKE_C_COMPILER=clang -DWEFT_TSAN=ON" ;;
    tsan-gcc) # gcc's ThreadSanitizer runtime (libtsan): other limits, other reports
      run_leg tsan-gcc env TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
        bash -c "$(declare -f build_and_test); root=$root jobs=$jobs build_and_test build-ci-tsan-gcc '-LE slow' -DCMAKE_C_COMPILER=gcc -DWEFT_TSAN=ON" ;;
    aarch64)  # cross-built, run under qemu-user
      if [ -f .ci/aarch64.sh ]; then run_leg aarch64 bash .ci/aarch64.sh; fi ;;
    bench)    # every benchmark runs once with tiny sizes (never asserts speed)
      if [ -f bench/run.py ]; then
        run_leg bench bash -c "cmake -S '$root' -B build-ci-release >/dev/null && cmake --build build-ci-release -j$jobs >/dev/null && python3 bench/run.py --build build-ci-release --quick"
      fi ;;
    *) echo "unknown leg $leg" >&2; exit 2 ;;
  esac
done

echo
echo "=== summary ($(( $(date +%s) - start ))s)"
printf '%s\n' "${summary[@]}"
npass=$(printf '%s\n' "${summary[@]}" | grep -c '^PASS' || true)
nfail=$(printf '%s\n' "${summary[@]}" | grep -c '^FAIL' || true)
echo "legs: $npass passed, $nfail failed"
exit $fail
