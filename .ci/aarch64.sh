#!/usr/bin/env bash
# .ci/aarch64.sh — the aarch64 CI leg: cross-build weft with Debian's
# gcc-aarch64-linux-gnu and run the unit tests under qemu-user, once with the
# assembly switch (sched/arch/switch_aarch64_aapcs.S) and once with the
# ucontext fallback.  See docs/aarch64.md.
#
# Idempotent: installs only what is missing, reuses the arm64 sysroot and
# the build directories, and exits non-zero if anything fails.
#
#   .ci/aarch64.sh                 # both variants, unit tests (no stress/slow)
#
# Environment (all optional):
#   WEFT_AARCH64_VARIANTS   switch variants to build and test ("asm ucontext")
#   WEFT_AARCH64_SYSROOT    arm64 sysroot dir (<repo>/build-aarch64-sysroot)
#   WEFT_AARCH64_BUILD_TYPE CMAKE_BUILD_TYPE (RelWithDebInfo)
#   WEFT_AARCH64_CMAKE_ARGS extra cmake configure arguments (word-split)
#   WEFT_AARCH64_CTEST_ARGS extra ctest arguments (word-split), e.g. "-R arch"
#   WEFT_AARCH64_LABEL_EXCLUDE  ctest -LE regex ("stress|slow"); set it to
#                           the empty string to run every test, then scale
#                           the stress tests down with WEFT_STRESS_SCALE
#   WEFT_AARCH64_JOBS       parallel build and ctest jobs (nproc)
#   WEFT_ARCH_SCALE         test_arch workload in percent (100)
#   WEFT_STRESS_SCALE       passed through to the stress tests
#
# Why a private sysroot and not multiarch: on Debian 12,
# `apt-get install libatomic-ops-dev:arm64` removes the host's amd64
# libatomic-ops-dev (the package is not Multi-Arch: same), and the arm64
# libudev1 forces an upgrade of the host's systemd packages to keep the
# versions in lockstep.  So the arm64 packages are downloaded with apt using
# a private state directory (the host's dpkg database, architecture list and
# apt lists are left alone) and unpacked with dpkg-deb -x into the sysroot,
# which cmake/toolchain-aarch64.cmake uses for headers, libraries,
# pkg-config and as qemu's -L prefix.
set -euo pipefail

t_start=$(date +%s)
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TRIPLE=aarch64-linux-gnu
VARIANTS=${WEFT_AARCH64_VARIANTS:-asm ucontext}
SYSROOT=${WEFT_AARCH64_SYSROOT:-$ROOT/build-aarch64-sysroot}
BUILD_TYPE=${WEFT_AARCH64_BUILD_TYPE:-RelWithDebInfo}
JOBS=${WEFT_AARCH64_JOBS:-$(nproc)}
LABEL_EXCLUDE=${WEFT_AARCH64_LABEL_EXCLUDE-stress|slow}

# arm64 packages unpacked into the sysroot: the -dev packages weft builds
# against (libdw for symbolized task backtraces), their run-time libraries
# and -dev dependencies reachable from pkg-config, and glibc for the
# emulator.  (The closure is checked
# after unpacking: every DT_NEEDED of these libraries must be in the root.)
SYSROOT_PKGS="libc6 libgcc-s1 libatomic-ops-dev libhwloc15 libhwloc-dev libudev1
              libnuma1 libnuma-dev libltdl7 libltdl-dev libcmocka0 libcmocka-dev
              libdw1 libdw-dev libelf1 libelf-dev zlib1g zlib1g-dev liblzma5 liblzma-dev
              libbz2-1.0"

log() { printf '[aarch64 %4ds] %s\n' "$(($(date +%s) - t_start))" "$*"; }
die() { printf '[aarch64] error: %s\n' "$*" >&2; exit 1; }

# ---- 1. host tools ----------------------------------------------------------
apt_updated=0
apt_install() { # pkgs...: install on the host, updating the lists only if needed
    [ "$(id -u)" = 0 ] || die "missing host packages ($*); run as root or install them"
    export DEBIAN_FRONTEND=noninteractive
    local candidates_ok=1 p
    for p in "$@"; do
        apt-cache policy "$p" 2>/dev/null | grep -q 'Candidate: [0-9]' || candidates_ok=0
    done
    if [ $candidates_ok = 0 ] && [ $apt_updated = 0 ]; then
        log "apt-get update (host)"
        apt-get update -qq
        apt_updated=1
    fi
    log "apt-get install $*"
    if ! apt-get install -y -qq --no-install-recommends "$@" >/dev/null; then
        [ $apt_updated = 0 ] || die "apt-get install $* failed"
        log "install failed; apt-get update and retry"
        apt-get update -qq
        apt_updated=1
        apt-get install -y -qq --no-install-recommends "$@" >/dev/null
    fi
}

need=()
command -v $TRIPLE-gcc >/dev/null || need+=("gcc-$TRIPLE")
[ -e /usr/$TRIPLE/lib/crt1.o ] || need+=(libc6-dev-arm64-cross)
command -v qemu-aarch64 >/dev/null || command -v qemu-aarch64-static >/dev/null ||
    need+=(qemu-user)
command -v cmake >/dev/null || need+=(cmake)
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v dpkg-deb >/dev/null || need+=(dpkg)
command -v apt-get >/dev/null || die "apt-get not found: this script targets Debian/Ubuntu"
[ ${#need[@]} = 0 ] || apt_install "${need[@]}"
command -v $TRIPLE-readelf >/dev/null || die "$TRIPLE-readelf missing (binutils-$TRIPLE)"

# ---- 2. the arm64 sysroot ---------------------------------------------------
stamp_want=$(echo "v1 $SYSROOT_PKGS" | tr -s ' \n' ' ')
if [ -f "$SYSROOT/.weft-sysroot" ] && [ "$(cat "$SYSROOT/.weft-sysroot")" = "$stamp_want" ]; then
    log "sysroot up to date: $SYSROOT"
else
    log "building the arm64 sysroot in $SYSROOT"
    apt_dir="$SYSROOT.apt"   # private apt state: lists, an empty dpkg status, .debs
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache" "$apt_dir/debs"
    : > "$apt_dir/status"
    # The host's sources, but arm64 only and none of the host's state.
    APT_OPTS=(-o Dir::State::Lists="$apt_dir/lists" -o Dir::State::status="$apt_dir/status"
              -o Dir::Cache="$apt_dir/cache" -o APT::Architecture=arm64
              -o APT::Architectures::=arm64 -o APT::Sandbox::User=root
              -o Debug::NoLocking=1 -o Acquire::Languages=none -qq)
    # shellcheck disable=SC2086
    fetch() { (cd "$apt_dir/debs" && rm -f ./*.deb && apt-get "${APT_OPTS[@]}" download $SYSROOT_PKGS); }
    if ! ls "$apt_dir/lists/"*Packages* >/dev/null 2>&1 || ! fetch 2>/dev/null; then
        log "apt-get update (private arm64 lists)"
        apt-get "${APT_OPTS[@]}" update
        fetch || die "could not download the arm64 packages: $SYSROOT_PKGS"
    fi
    rm -rf "$SYSROOT.tmp"
    mkdir -p "$SYSROOT.tmp"
    for deb in "$apt_dir"/debs/*.deb; do
        dpkg-deb -x "$deb" "$SYSROOT.tmp"
    done
    # Absolute symlinks would point into the host: make them sysroot-relative.
    while IFS= read -r -d '' l; do
        tgt=$(readlink "$l")
        ln -sfn "$(realpath -m --relative-to="$(dirname "$l")" "$SYSROOT.tmp$tgt")" "$l"
    done < <(find "$SYSROOT.tmp" -type l -lname '/*' -print0)
    # Closure check: every library these need must be in the root.
    missing=""
    for so in "$SYSROOT.tmp/usr/lib/$TRIPLE"/*.so.* "$SYSROOT.tmp/lib/$TRIPLE"/*.so.*; do
        [ -f "$so" ] || continue
        for n in $($TRIPLE-readelf -d "$so" 2>/dev/null | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'); do
            [ -e "$SYSROOT.tmp/usr/lib/$TRIPLE/$n" ] || [ -e "$SYSROOT.tmp/lib/$TRIPLE/$n" ] ||
                [ -e "$SYSROOT.tmp/lib/$n" ] || missing="$missing $n(<-$(basename "$so"))"
        done
    done
    [ -z "$missing" ] || die "sysroot incomplete, add the packages providing:$missing"
    echo "$stamp_want" > "$SYSROOT.tmp/.weft-sysroot"
    rm -rf "$SYSROOT"
    mv "$SYSROOT.tmp" "$SYSROOT"
    log "sysroot ready ($(du -sh "$SYSROOT" | cut -f1))"
fi

# ---- 3. configure, build, test each variant ---------------------------------
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
export WEFT_ARCH_SCALE=${WEFT_ARCH_SCALE:-100}
status=0
summary=()
for v in $VARIANTS; do
    bdir="$ROOT/build-aarch64-$v"
    t0=$(date +%s)
    mkdir -p "$bdir"
    if [ ! -f "$bdir/CMakeCache.txt" ]; then
        log "[$v] configure $bdir"
        # shellcheck disable=SC2086
        cmake -S "$ROOT" -B "$bdir" "${generator[@]}" \
            -DCMAKE_TOOLCHAIN_FILE="$ROOT/cmake/toolchain-aarch64.cmake" \
            -DWEFT_AARCH64_SYSROOT="$SYSROOT" -DWEFT_SWITCH="$v" \
            -DCMAKE_BUILD_TYPE="$BUILD_TYPE" ${WEFT_AARCH64_CMAKE_ARGS:-} >"$bdir/ci-configure.log" 2>&1 ||
            { cat "$bdir/ci-configure.log"; rm -f "$bdir/CMakeCache.txt"; die "[$v] configure failed"; }
    else
        # shellcheck disable=SC2086
        cmake "$bdir" -DWEFT_SWITCH="$v" ${WEFT_AARCH64_CMAKE_ARGS:-} >/dev/null
    fi
    log "[$v] build"
    cmake --build "$bdir" -j "$JOBS" >"$bdir/ci-build.log" 2>&1 ||
        { tail -n 60 "$bdir/ci-build.log"; die "[$v] build failed (log: $bdir/ci-build.log)"; }
    # Sanity: the binaries really are aarch64 and really use this variant.
    lib="$bdir/libweft.a"
    some_test=$(find "$bdir" -name 'test_*' -type f -perm -u+x -print -quit)
    [ -n "$some_test" ] || die "[$v] no test executables were built"
    file_hdr=$($TRIPLE-readelf -h "$some_test" | grep Machine)
    case $file_hdr in *AArch64*) ;; *) die "[$v] test binaries are not aarch64: $file_hdr" ;; esac
    syms=$($TRIPLE-nm "$lib")
    if [ "$v" = asm ]; then
        grep -q ' T weft__a64_task_start$' <<<"$syms" || die "[$v] libweft.a lacks the asm switch"
    else
        grep -q ' U swapcontext$' <<<"$syms" || die "[$v] libweft.a lacks the ucontext switch"
    fi
    t1=$(date +%s)
    log "[$v] ctest (label exclude: '${LABEL_EXCLUDE}')"
    ctest_args=(--test-dir "$bdir" --output-on-failure -j "$JOBS")
    [ -z "$LABEL_EXCLUDE" ] || ctest_args+=(-LE "$LABEL_EXCLUDE")
    # shellcheck disable=SC2086
    if ctest "${ctest_args[@]}" ${WEFT_AARCH64_CTEST_ARGS:-} 2>&1 | tee "$bdir/ci-ctest.log"; then
        res=passed
    else
        res=FAILED
        status=1
    fi
    # ctest exits 0 when no test matched: that is a failure here.
    grep -q 'tests passed' "$bdir/ci-ctest.log" || { res="FAILED (no tests ran)"; status=1; }
    t2=$(date +%s)
    summary+=("$v: $res — $(grep -Eo '[0-9]+% tests passed.*' "$bdir/ci-ctest.log" | head -n1)
      build $((t1 - t0))s, tests $((t2 - t1))s")
done

log "summary"
for s in "${summary[@]}"; do echo "  $s"; done
echo "aarch64 leg: $([ $status = 0 ] && echo PASSED || echo FAILED) in $(($(date +%s) - t_start))s"
exit $status
