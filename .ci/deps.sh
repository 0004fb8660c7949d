#!/usr/bin/env bash
# deps.sh — install what weft needs on Debian 12 (run as root), only what is
# missing.  Usage: bash .ci/deps.sh [extra-package ...]
set -euo pipefail
want=(build-essential cmake pkg-config libatomic-ops-dev libhwloc-dev libcmocka-dev python3 "$@")
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "deps: missing ${missing[*]} — run as root (or install them) first" >&2
    exit 1
  fi
  echo "deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
