#!/usr/bin/env bash
# Installs the Debian packages given as arguments that are not installed yet (apt-get, non-interactive).
# "llvm-dev" counts as present when any llvm-14..19-dev is installed.
set -euo pipefail

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

missing=()
for pkg in "$@"; do
  if [ "$pkg" = llvm-dev ]; then
    found=no
    for v in 19 18 17 16 15 14; do installed "llvm-$v-dev" && found=yes && break; done
    [ $found = yes ] || missing+=(llvm-dev)
  elif ! installed "$pkg"; then
    missing+=("$pkg")
  fi
done

[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"; then
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
