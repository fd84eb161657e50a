#!/usr/bin/env bash
# Real dump and restore with a chosen CRIU, for the end-to-end tests (tests/e2e/README.md has the interface).
#
#   restore.sh start   WORK [--env K=V]... -- PROGRAM ARG...
#   restore.sh dump    WORK --criu CRIU --images DIR (--pid PID | --from RWORK) [--timeout S] [-- CRIU-ARG...]
#   restore.sh restore WORK --criu CRIU --images DIR [--bind SRC:DST]... [--watch FILE [--lines N]]
#                           [--timeout S] [-- CRIU-ARG...]
#   restore.sh stop    WORK
#
# Every process this script starts is recorded in WORK (pid + start time) and `stop` kills exactly those,
# after checking the start time, so a recycled pid is never killed. Restores run in a fresh pid and mount
# namespace (unshare --pid --mount --fork --mount-proc): the pid recorded in the images is always free
# there, so restores by several people at once never collide, and every bind mount and overlay exists only
# inside that namespace. Nothing is written outside WORK and the images directory of a dump.
# Facts (loader-run CRIU, CAP_SYS_RESOURCE, decision and jmp: lines): ../shared/docs/real-restores.md §1-§3.
set -euo pipefail

die() { echo "restore.sh: $*" >&2; exit 2; }
starttime() { awk '{ sub(/^.*\) /, ""); print $20 }' "/proc/$1/stat" 2>/dev/null || true; }
remember() {  # name pid: WORK/name.pid holds "pid starttime"
  printf '%s %s\n' "$2" "$(starttime "$2")" > "$work/$1.pid"
}
own_kill() {  # name: SIGKILL the recorded pid if it is still the process we started
  local f="$work/$1.pid" pid st
  [ -f "$f" ] || return 0
  read -r pid st < "$f" || return 0
  if [ -n "$pid" ] && [ -n "$st" ] && [ "$(starttime "$pid")" = "$st" ]; then
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 50); do [ "$(starttime "$pid")" = "$st" ] || break; sleep 0.02; done
  fi
  rm -f "$f"
}
ms_now() { date +%s%3N; }
result() { printf '%s=%s\n' "$1" "$2" >> "$work/result"; }

cmd="${1:-}"; work="${2:-}"
[ -n "$cmd" ] && [ -n "$work" ] || die "usage: restore.sh start|dump|restore|stop WORK ..."
shift 2
mkdir -p "$work"
work=$(cd "$work" && pwd)

criu="" images="" pid="" from="" timeout=20 watch="" lines=3
binds=() envs=() extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --criu) criu="$2"; shift 2 ;;
    --images) images="$2"; shift 2 ;;
    --pid) pid="$2"; shift 2 ;;
    --from) from="$2"; shift 2 ;;
    --timeout) timeout="$2"; shift 2 ;;
    --bind) binds+=("$2"); shift 2 ;;
    --watch) watch="$2"; shift 2 ;;
    --lines) lines="$2"; shift 2 ;;
    --env) envs+=("$2"); shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) die "unknown option $1" ;;
  esac
done

case "$cmd" in
start)
  # CAP_SYS_RESOURCE is dropped from the bounding set: a process dumped with it fails to restore on a
  # machine without it ("Unable to restore capabilities", real-restores.md §2).
  [ ${#extra[@]} -gt 0 ] || die "start: no program"
  own_kill program
  nul=/dev/null   # (a private null device if the host's was replaced; see restore)
  if [ ! -c /dev/null ]; then rm -f "$work/null"; mknod -m 666 "$work/null" c 1 3; nul="$work/null"; fi
  # Only stdio goes to the program: a descriptor inherited from the caller (ctest keeps its log open)
  # would be dumped too, and the restore would then need that file.
  (
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      [ "$fd" -gt 2 ] && eval "exec $fd>&-"
    done
    exec env "${envs[@]}" setpriv --bounding-set -sys_resource -- "${extra[@]}"
  ) < "$nul" >> "$work/program.stdio" 2>&1 &
  remember program $!
  echo $!
  ;;

dump)
  [ -n "$criu" ] && [ -n "$images" ] || die "dump: --criu and --images are required"
  mkdir -p "$images"
  images=$(cd "$images" && pwd)
  rm -f "$work/dump.log" "$work/dump.status"
  if [ -n "$from" ]; then
    # The task a previous `restore` brought back lives in that restore's namespaces: dump it from inside.
    # --leave-running: CRIU (the namespace's init) exits when the task does, and the pid namespace's end
    # would kill this dump before it returns; `stop` ends the task afterwards.
    read -r hpid _ < "$from/task.pid" || die "dump: $from has no restored task"
    read -r nspid < "$from/task.nspid" || die "dump: $from has no restored task"
    set +e
    timeout --kill-after=2 "$timeout" nsenter -t "$hpid" -m -p -- \
      "$criu" dump -t "$nspid" -D "$images" -v4 -o "$work/dump.log" --leave-running "${extra[@]}"
    rc=$?
    set -e
  else
    [ -n "$pid" ] || die "dump: --pid or --from is required"
    set +e
    timeout --kill-after=2 "$timeout" "$criu" dump -t "$pid" -D "$images" -v4 -o "$work/dump.log" "${extra[@]}"
    rc=$?
    set -e
  fi
  echo "$rc" > "$work/dump.status"
  if [ "$rc" != 0 ]; then
    echo "restore.sh: dump failed (exit $rc); dump.log tail:" >&2
    tail -n 15 "$work/dump.log" >&2 2>/dev/null || true
    exit 1
  fi
  ;;

restore)
  [ -n "$criu" ] && [ -n "$images" ] || die "restore: --criu and --images are required"
  images=$(cd "$images" && pwd)
  own_kill nsinit; own_kill unshare
  rm -f "$work/result" "$work/restore.log" "$work/after.txt" "$work/task.pid" "$work/task.nspid"
  mkdir -p "$work/ovl"
  # The namespace's own set-up: paths recorded in the images are bind-mounted from SRC; a DST that does not
  # exist gets a mount point in an overlay (upper layer on a tmpfs that dies with the namespace).
  {
    echo 'set -eu'
    echo "mount -t tmpfs vk-e2e '$work/ovl'"
    # Restored programs have /dev/null as stdio. Seen here: a test elsewhere replaced the host's /dev/null
    # by a regular file (every restore then failed with "bad size"); inside the namespace, use a real one.
    echo "if [ ! -c /dev/null ]; then mknod -m 666 '$work/ovl/null' c 1 3; mount --bind '$work/ovl/null' /dev/null; fi"
    n=0
    for b in "${binds[@]}"; do
      src="${b%%:*}"; dst="${b#*:}"
      [ -e "$src" ] || die "restore: --bind source $src does not exist"
      src=$(readlink -f "$src")
      if [ ! -e "$dst" ]; then
        # Paths under the overlaid directory are seen through the overlay inside the namespace, so
        # writes there (restore.log, the program's output) would land in its throw-away upper layer.
        a="$dst"; while [ ! -e "$a" ]; do a=$(dirname "$a"); done
        for p in "$work" "${binds[@]%%:*}"; do
          p=$(readlink -f "$p")
          case "$p/" in "$a"/*) die "restore: $p lies under $a, which the restore overlays to create $dst; use paths outside $a" ;; esac
        done
      fi
      echo "if [ ! -e '$dst' ]; then"
      echo "  a='$dst'; while [ ! -e \"\$a\" ]; do a=\$(dirname \"\$a\"); done"
      echo "  if ! grep -q \" \$a overlay \" /proc/self/mounts; then"
      echo "    mkdir -p '$work/ovl/$n/u' '$work/ovl/$n/w'"
      echo "    mount -t overlay vk-e2e -o \"lowerdir=\$a,upperdir=$work/ovl/$n/u,workdir=$work/ovl/$n/w\" \"\$a\""
      echo "  fi"
      if [ -d "$src" ]; then echo "  mkdir -p '$dst'"; else echo "  mkdir -p \"\$(dirname '$dst')\"; : > '$dst'"; fi
      echo "fi"
      echo "mount --bind '$src' '$dst'"
      n=$((n + 1))
    done
    # -W: CRIU writes stats-restore into its work dir, by default the images folder (a shared fixture).
    printf 'exec %q restore -D %q -W %q -v4 -o %q' "$criu" "$images" "$work" "$work/restore.log"
    for a in "${extra[@]}"; do printf ' %q' "$a"; done
    echo
  } > "$work/inner.sh"
  watch_from=0
  if [ -n "$watch" ]; then watch_from=$(stat -c %s "$watch" 2>/dev/null || echo 0); fi
  t0=$(ms_now)
  unshare --pid --mount --fork --mount-proc --kill-child bash "$work/inner.sh" \
    < /dev/null > "$work/restore.stdio" 2>&1 &
  remember unshare $!
  upid=$!
  status=hang
  deadline=$(( t0 + timeout * 1000 ))
  while [ "$(ms_now)" -lt "$deadline" ]; do
    if [ ! -f "$work/nsinit.pid" ]; then
      c=$(cat "/proc/$upid/task/$upid/children" 2>/dev/null || true)
      [ -n "${c// /}" ] && remember nsinit ${c%% *}
    fi
    if ! kill -0 "$upid" 2>/dev/null || [ "$(starttime "$upid")" = "" ]; then status=failed; break; fi
    if grep -q "Restore finished successfully" "$work/restore.log" 2>/dev/null; then
      status=restored; break
    fi
    sleep 0.02
  done
  t1=$(ms_now)
  : > "$work/result"
  result criu "$("$criu" --version 2>/dev/null | head -n1 | sed 's/^Version: //')"
  result restore_ms $((t1 - t0))
  if [ "$status" = restored ]; then
    read -r ipid _ < "$work/nsinit.pid"
    task=$(cat "/proc/$ipid/task/$ipid/children" 2>/dev/null || true)
    task=${task%% *}
    if [ -n "$task" ]; then
      remember task "$task"
      awk '/^NSpid:/ { print $NF }' "/proc/$task/status" > "$work/task.nspid"
    fi
    if [ -n "$watch" ]; then
      # The program's own lines written after the restore (R lines of vdsoprobe, T lines of vdsoloop).
      while [ "$(ms_now)" -lt "$deadline" ]; do
        tail -c +"$((watch_from + 1))" "$watch" 2>/dev/null | grep -E '^[RT] ' > "$work/after.txt" || true
        [ "$(wc -l < "$work/after.txt")" -ge "$lines" ] && break
        sleep 0.05
      done
      [ "$(wc -l < "$work/after.txt")" -ge "$lines" ] || status=no-output
    fi
  fi
  result status "$status"
  decision=none
  if grep -q "remap inplace" "$work/restore.log" 2>/dev/null; then decision=inplace; fi
  if grep -q "generate proxy" "$work/restore.log" 2>/dev/null; then decision=proxy; fi
  result decision "$decision"
  # "vdso: jmp: OLDBASE/OFF -> NEWBASE/OFF (index I)": OFF is the trampolined export's offset in the dumped vDSO.
  result jmp "$(sed -n 's/.*vdso: jmp: 0x[0-9a-f]*\/\(0x[0-9a-f]*\) -> .*/\1/p' "$work/restore.log" 2>/dev/null | tr '\n' ' ' | sed 's/ $//')"
  result mismatch "$(grep -m1 -o 'vdso: \[[0-9]*\].* differs: .*' "$work/restore.log" 2>/dev/null | sed 's/^vdso: //')"
  if [ "$status" != restored ]; then
    echo "restore.sh: restore $status after $((t1 - t0)) ms; restore.log tail:" >&2
    tail -n 15 "$work/restore.log" >&2 2>/dev/null || cat "$work/restore.stdio" >&2
    own_kill nsinit; own_kill unshare; rm -f "$work/task.pid"
    exit 1
  fi
  ;;

stop)
  # Killing the namespace's init (CRIU, which waits for the restored tree) ends every task inside it.
  own_kill task; own_kill nsinit; own_kill unshare; own_kill program
  wait 2>/dev/null || true
  ;;

*) die "unknown command $cmd" ;;
esac
