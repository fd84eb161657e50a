#!/usr/bin/env bash
# Runs apt-get/apt-cache in a PRIVATE configuration rooted at $KCACHE/apt (own sources list, lists,
# cache and state dirs). The system's apt configuration and sources are never touched.
#   scripts/kernels/apt.sh KCACHE apt-get update
#   scripts/kernels/apt.sh KCACHE apt-get download PKG=VER
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
kcache="$1"; shift
root="$kcache/apt"
mkdir -p "$root/lists/partial" "$root/cache/archives/partial" "$root/state" "$root/etc/preferences.d" \
         "$root/etc/apt.conf.d"
touch "$root/state/status"
: > "$root/etc/sources.list.d.empty" 2>/dev/null || true
mkdir -p "$root/etc/sources.list.d"
tool="$1"; shift
exec "$tool" \
  -o Dir::Etc::SourceList="$here/sources.list" \
  -o Dir::Etc::SourceParts="$root/etc/sources.list.d" \
  -o Dir::Etc::Preferences="$root/etc/preferences" \
  -o Dir::Etc::PreferencesParts="$root/etc/preferences.d" \
  -o Dir::State="$root/state" \
  -o Dir::State::Lists="$root/lists" \
  -o Dir::State::status="$root/state/status" \
  -o Dir::Cache="$root/cache" \
  -o Debug::NoLocking=1 \
  -o APT::Sandbox::User=root \
  -o APT::Architecture=amd64 \
  -o Acquire::Languages=none \
  -o Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled=false \
  "$@"
