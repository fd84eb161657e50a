#!/usr/bin/env bash
# The truth corpus: real CRIU 4.2.1 restores of vdsoprobe dumped inside qemu guests on pinned kernels,
# restored on this host and guest to guest, one record per restore (corpora/truth/README.md).
#   scripts/kernels/truth.sh KCACHE LOCK TRUTH_DIR VDSOKIT VDSOPROBE CRIU_CACHE HOSTWORK
# HOSTWORK (in the build tree) holds the host restores' working folders; it must not lie under /var/tmp or
# /usr/local/bin, which the restores overlay (tests/e2e/README.md).
# TRUTH_SOURCES: the kernels to dump on; TRUTH_PAIRS: "DUMPED>RESTORED" guest restores, a ":rewrite-vvar"
# suffix restores the images after `vdsokit rewrite vvar --target RESTORED`. A source whose images exist
# (made with the same vdsoprobe) is not dumped again unless TRUTH_REDUMP=1.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
top="$(cd "$here/../.." && pwd)"
kcache="$1"; lock="$2"; truth="$3"; vdsokit="$4"; probe="$5"; ccache="$6"; hostwork="$7"
criu="$ccache/criu-sid"
[ -f "$criu.ok" ] || { echo "truth.sh: no CRIU 4.2 in $ccache (scripts/criu-roots.sh)" >&2; exit 1; }
criu_version=$("$criu" --version | sed -n 's/^Version: //p')
probe_sha=$(sha256sum "$probe" | cut -d' ' -f1)
qemu_version=$(${QEMU:-qemu-system-x86_64} --version | head -1 | sed 's/ (.*//')
work="$kcache/truth"
mkdir -p "$work" "$hostwork" "$truth/images" "$truth/hosts"
now() { date -u +%Y-%m-%dT%H:%M:%SZ; }
field() { awk -v r="$1" -v c="$2" '!/^#/ && $1==r {print $c}' "$lock"; }
deb_of() { "$here/fetch.sh" "$kcache" "$lock" "$1" >&2; echo "$kcache/debs/$(basename "$(field "$1" 7)")"; }
modules_deb_of() {
  case "$(field "$1" 3)" in
    linux-image-*) deb_of "$1" ;;
    *) "$here/truth-fetch-modules.sh" "$kcache" "$1" ;;
  esac
}
vmlinuz_of() {
  local v="$kcache/vmlinuz/$1"
  if [ ! -f "$v" ]; then mkdir -p "$kcache/vmlinuz"; "$vdsokit" kernel vmlinuz "$(deb_of "$1")" -o "$v" >&2; fi
  echo "$v"
}

dump_on() {  # release
  local rel="$1" dir="$truth/images/$1" w="$work/$1/dump"
  if [ -z "${TRUTH_REDUMP:-}" ] && [ -f "$dir/dump.json" ] && grep -q "\"vdsoprobe_sha256\": \"$probe_sha\"" "$dir/dump.json"; then
    echo "truth: $rel: reusing $dir"; return 0
  fi
  mkdir -p "$work/$rel"
  local mdeb v
  mdeb=$(modules_deb_of "$rel") && v=$(vmlinuz_of "$rel") || return 1
  "$here/truth-initramfs.sh" "$work/$rel/dump.cpio.gz" "$rel" "$mdeb" "$ccache/sid" "$probe" || return 1
  "$here/truth-boot.sh" "$v" "$work/$rel/dump.cpio.gz" dump "$w" || return 1
  if [ "$(cat "$w/vk/dump.rc" 2>/dev/null)" != 0 ]; then
    echo "truth: $rel: dump failed; dump.log tail:" >&2; tail -n 5 "$w/vk/dump.log" >&2 || true; return 1
  fi
  rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
  cp "$w"/vk/images/*.img "$dir.tmp/"
  cat > "$dir.tmp/dump.json" <<JSON
{
  "release": "$rel",
  "uname": "$(cat "$w/vk/uname")",
  "criu": "$(sed -n 's/^Version: //p' "$w/vk/criu-version")",
  "how": "$qemu_version -accel tcg -cpu max,la57=off -m 1024, append '$(cat "$w/vk/append")'; vdsoprobe started with GLIBC_TUNABLES=glibc.pthread.rseq=0 and CAP_SYS_RESOURCE dropped (setpriv), dumped after 1 s with criu dump -v4 (scripts/kernels/truth-init.sh)",
  "vdsoprobe_sha256": "$probe_sha",
  "date": "$(now)"
}
JSON
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
  echo "truth: $rel: dumped ($(ls "$dir" | wc -l) files)"
}

host_catalog() {  # the running kernel as a catalog (check needs its vDSO later, on other machines)
  local hrel; hrel=$(uname -r)
  local dir="$truth/hosts/$hrel"
  if [ ! -f "$dir/catalog.yaml" ]; then
    rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
    "$vdsokit" catalog add --host --abi x86_64 --catalog "$dir.tmp/catalog.yaml" >&2
    sed -i "s|^  - id: host/x86_64$|  - id: $hrel/x86_64|" "$dir.tmp/catalog.yaml"
    rm -rf "$dir" && mv "$dir.tmp" "$dir"
  fi
  echo "$dir/catalog.yaml"
}

restore_on_host() {  # release
  local rel="$1" hrel w out cat
  hrel=$(uname -r); cat=$(host_catalog)
  w="$hostwork/$rel"; out="$w.out"
  rm -rf "$w"; mkdir -p "$w"; : > "$out"
  local status=restored
  "$top/tests/e2e/restore.sh" restore "$w" --criu "$criu" --images "$truth/images/$rel" \
    --bind "$probe:/usr/local/bin/vdsoprobe" --bind "$out:/var/tmp/vdsoprobe.out" --watch "$out" --lines 10 || status=failed
  "$top/tests/e2e/restore.sh" stop "$w"
  "$vdsokit" inspect "$truth/images/$rel" --format json > "$w/inspect.json"
  python3 "$here/truth-record.py" "$truth/${rel}__${hrel}.json" --dumped "$rel" --restored "$hrel" \
    --restored-catalog "$cat" --where host --images "$truth/images/$rel" --inspect "$w/inspect.json" \
    --restore-log "$w/restore.log" --lines "$w/after.txt" --criu "$criu_version" --status "$status" \
    --meta "date=$(now)" --meta "how=restored on this host with tests/e2e/restore.sh (fresh pid+mount namespace, criu restore -v4)"
}

restore_in_guest() {  # dumped restored [rewrite-vvar]
  local a="$1" b="$2" how="${3:-}" images="$truth/images/$1" name="${1}__${2}"
  if [ "$how" = rewrite-vvar ]; then
    images="$truth/images/$a.rewrite-vvar-$b"
    rm -rf "$images" && cp -r "$truth/images/$a" "$images"
    "$vdsokit" rewrite vvar --force --target "$b/x86_64" "$images" >&2
    name="$name.rewrite-vvar"
  fi
  local w="$work/pairs/$name"
  mkdir -p "$work/pairs"
  local mdeb v
  mdeb=$(modules_deb_of "$b") && v=$(vmlinuz_of "$b") || return 1
  "$here/truth-initramfs.sh" "$w.cpio.gz" "$b" "$mdeb" "$ccache/sid" "$probe" "$images" || return 1
  "$here/truth-boot.sh" "$v" "$w.cpio.gz" restore "$w" || return 1
  local status=failed
  [ "$(cat "$w/vk/restore.rc" 2>/dev/null)" = 0 ] && grep -q '^R ' "$w/vk/probe-restored.out" && status=restored
  "$vdsokit" inspect "$images" --format json > "$w/inspect.json"
  python3 "$here/truth-record.py" "$truth/$name.json" --dumped "$a" --restored "$b" --where guest \
    --images "$images" --inspect "$w/inspect.json" --restore-log "$w/vk/restore.log" \
    --lines "$w/vk/probe-restored.out" --criu "$(sed -n 's/^Version: //p' "$w/vk/criu-version")" --status "$status" \
    --meta "date=$(now)" --meta "how=restored in a $qemu_version TCG guest on $b (criu restore -d -v4, scripts/kernels/truth-init.sh)" \
    --meta "rewrite=${how:-none}"
  rm -f "$w.cpio.gz"
}

# An xk fixture (../shared/fixtures/criu) restored in a guest, as dumped and after `rewrite vvar`: the
# rewrite's claimed outcome change (xk-6.12.117 -> 6.16.12: proxy -> in place) needs a 6.16 kernel.
restore_fixture_in_guest() {  # fixture-folder dumped-release restored [rewrite-vvar]
  local fx="$1" a="$2" b="$3" how="${4:-}" src="$top/../shared/fixtures/criu/$1/images" name="${2}__${3}.$1"
  local xk="$(dirname "$probe")/xk-vdsoloop" images="$src"
  [ -d "$src" ] || { echo "truth: no fixture $src" >&2; return 1; }
  [ "$(sha256sum "$xk" | cut -d' ' -f1)" = 4c798330244e3ca9217d08837b2106c7f3c3eb06c89de2d0370466d9dcbba000 ] ||
    { echo "truth: $xk is not the fixtures' vdsoloop (fixtures/criu/programs/README.md)" >&2; return 1; }
  if [ "$how" = rewrite-vvar ]; then
    images="$truth/images/$fx.rewrite-vvar-$b"
    rm -rf "$images" && mkdir -p "$images" && cp "$src"/*.img "$images/"
    # --force: xk-6.12.117 -> 6.16.12 keeps VK005 (__vdso_sgx_enter_enclave moved), an export vdsoloop never
    # calls; the record shows what the functions it does call return.
    "$vdsokit" rewrite vvar --force --target "$b/x86_64" "$images" >&2 || return 1
    name="$name.rewrite-vvar"
  fi
  local w="$work/pairs/$name" mdeb v
  mkdir -p "$work/pairs"
  mdeb=$(modules_deb_of "$b") && v=$(vmlinuz_of "$b") || return 1
  "$here/truth-initramfs.sh" "$w.cpio.gz" "$b" "$mdeb" "$ccache/sid" "$probe" "$images" \
    "$xk:/usr/local/bin/vdsoloop" /var/tmp/vdsoloop.out || return 1
  "$here/truth-boot.sh" "$v" "$w.cpio.gz" restore "$w" || return 1
  local status=failed
  [ "$(cat "$w/vk/restore.rc" 2>/dev/null)" = 0 ] && grep -q '^T ' "$w/vk/probe-restored.out" && status=restored
  "$vdsokit" inspect "$images" --format json > "$w/inspect.json"
  python3 "$here/truth-record.py" "$truth/$name.json" --dumped "$a" --restored "$b" --where guest \
    --images "$images" --inspect "$w/inspect.json" --restore-log "$w/vk/restore.log" \
    --lines "$w/vk/probe-restored.out" --criu "$(sed -n 's/^Version: //p' "$w/vk/criu-version")" --status "$status" \
    --meta "date=$(now)" --meta "program=$fx (xk-vdsoloop, T lines)" \
    --meta "how=restored in a $qemu_version TCG guest on $b (criu restore -d -v4, scripts/kernels/truth-init.sh)" \
    --meta "rewrite=${how:-none}"
  rm -f "$w.cpio.gz"
}

failed=0
for rel in ${TRUTH_SOURCES}; do
  dump_on "$rel" || { failed=1; continue; }
  restore_on_host "$rel" || failed=1
done
for pair in ${TRUTH_PAIRS}; do
  spec="${pair%%:*}"; how=""; [ "$spec" != "$pair" ] && how="${pair#*:}"
  restore_in_guest "${spec%%>*}" "${spec#*>}" $how || failed=1
done
for spec in ${TRUTH_FIXTURES:-}; do   # FIXTURE@DUMPED>RESTORED[:rewrite-vvar]
  fx="${spec%%@*}"; rest="${spec#*@}"; pair="${rest%%:*}"; how=""; [ "$pair" != "$rest" ] && how="${rest#*:}"
  restore_fixture_in_guest "$fx" "${pair%%>*}" "${pair#*>}" $how || failed=1
done
echo "truth: $(ls "$truth"/*.json | wc -l) records in $truth"
exit $failed
