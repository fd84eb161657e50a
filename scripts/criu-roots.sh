#!/usr/bin/env bash
# Builds (or reuses) private roots holding Debian's own CRIU for the end-to-end tests, outside the
# source tree, and checks each with `criu check`. Nothing is written to system paths.
#
#   scripts/criu-roots.sh [CACHE]        CACHE defaults to $VDSOKIT_CRIU_CACHE or /var/tmp/vdsokit-criu
#
# Result, per suite (trixie: CRIU 4.1.x, sid: 4.2.x):
#   CACHE/<suite>/            the root (mmdebstrap --variant=essential --include=criu)
#   CACHE/criu-<suite>        a wrapper that runs the root's criu through the root's own loader
#   CACHE/criu-<suite>.ok     "criu --version" output, written once `criu check` said "Looks good."
#
# Why a loader and not chroot, and why Check-Valid-Until is off: ../shared/docs/real-restores.md §1.
# The mirror is taken from the machine's own apt sources at run time; no host name lives here.
# A failure leaves the previous root (if any) untouched and prints the reason on stderr; the e2e tests
# read CACHE/<suite>.error to report "skipped: <reason>".
set -euo pipefail

cache="${1:-${VDSOKIT_CRIU_CACHE:-/var/tmp/vdsokit-criu}}"
suites="${VDSOKIT_CRIU_SUITES:-trixie sid}"
mkdir -p "$cache"

mirror_uri() {
  local uri=""
  if compgen -G "/etc/apt/sources.list.d/*.sources" >/dev/null; then
    uri=$(awk '/^URIs:/ {print $2}' /etc/apt/sources.list.d/*.sources | grep -v -- '-security' | head -n1)
  fi
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' \
          /etc/apt/sources.list | grep -v -- '-security' | head -n1)
  fi
  printf '%s' "$uri"
}

write_wrapper() {  # root wrapper
  local root="$1" wrapper="$2"
  cat > "$wrapper.tmp" <<WRAP
#!/bin/sh
# Runs Debian's criu from the private root $root through that root's loader (not chroot).
exec "$root/usr/lib64/ld-linux-x86-64.so.2" \\
  --library-path "$root/usr/lib/x86_64-linux-gnu:$root/lib/x86_64-linux-gnu" \\
  "$root/usr/sbin/criu" "\$@"
WRAP
  chmod 0755 "$wrapper.tmp"
  mv -f "$wrapper.tmp" "$wrapper"
}

fail() {  # suite reason
  printf '%s\n' "$2" > "$cache/$1.error"
  echo "criu-roots: $1: $2" >&2
  status=1
}

status=0
for suite in $suites; do
  root="$cache/$suite"
  wrapper="$cache/criu-$suite"
  if [ -f "$wrapper.ok" ] && [ -x "$root/usr/sbin/criu" ]; then
    echo "criu-roots: $suite: reusing $root ($(head -n1 "$wrapper.ok"))"
    continue
  fi
  rm -f "$cache/$suite.error"
  if ! command -v mmdebstrap >/dev/null; then fail "$suite" "mmdebstrap is not installed"; continue; fi
  uri=$(mirror_uri)
  if [ -z "$uri" ]; then fail "$suite" "no Debian mirror URI in /etc/apt/sources.list.d/*.sources"; continue; fi
  tmp="$cache/.build-$suite"
  rm -rf "$tmp"
  echo "criu-roots: $suite: building $root from $uri (about 45 s)"
  if ! mmdebstrap --quiet --variant=essential --aptopt='Acquire::Check-Valid-Until "false"' \
        --include=criu "$suite" "$tmp" "deb $uri $suite main" > "$cache/$suite.build.log" 2>&1; then
    fail "$suite" "mmdebstrap failed: $(tail -n1 "$cache/$suite.build.log")"; rm -rf "$tmp"; continue
  fi
  rm -rf "$root"
  mv "$tmp" "$root"
  write_wrapper "$root" "$wrapper"
  if ! out=$("$wrapper" check 2>&1) || ! grep -q "Looks good" <<<"$out"; then
    fail "$suite" "criu check failed: $(tail -n1 <<<"$out")"; continue
  fi
  "$wrapper" --version > "$wrapper.ok.tmp" 2>&1 && mv "$wrapper.ok.tmp" "$wrapper.ok"
  echo "criu-roots: $suite: $(head -n1 "$wrapper.ok") ok"
done
exit $status
