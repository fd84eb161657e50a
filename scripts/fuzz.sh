#!/usr/bin/env bash
# Runs every libFuzzer target of a VK_FUZZ build for SECONDS each: scripts/fuzz.sh BUILD SECONDS [TARGET...]
# Corpus: BUILD/fuzz/corpus/<target> (grows across runs) seeded from BUILD/fuzz/seeds/<target> (real
# fixtures, fuzz/mkseed.py) and fuzz/regressions/<target> (every past finding's reproducer, replayed
# first on every run). Any finding (crash, sanitizer report, leak, timeout, > RSS limit) stops
# that target, leaves the reproducer in BUILD/fuzz/findings/<target>/ and makes the script fail.
# Prints one line per target with its executions, and the total. FUZZ_RUNS=N also stops a target after
# N executions (a campaign measured in executions, not seconds).
set -uo pipefail
build=${1:?usage: fuzz.sh BUILD SECONDS [TARGET...]}
seconds=${2:?usage: fuzz.sh BUILD SECONDS [TARGET...]}
shift 2
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(image imageset pages vdso archive crit_json catalog procmaps kernel)
build=$(cd "$build" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
# Larger inputs where the seeds are large (image sets with pages, archives); the default elsewhere.
max_len() {
  case $1 in
    imageset|pages|archive) echo 262144 ;;
    # The catalog target parses with yaml-cpp (about 10 ms for the whole 127 KB built-in catalog under
    # ASan). One complete entry is about 4 KB and the fuzzer's entries are far smaller, so 4 KiB still
    # holds several; it ran 1900 executions a second here against 1100 at 16 KiB.
    catalog) echo 4096 ;;
    kernel|vdso) echo 65536 ;;
    *) echo 16384 ;;
  esac
}
failed=0
total=0
for t in "${targets[@]}"; do
  bin=$build/fuzz/fuzz_$t
  [ -x "$bin" ] || { echo "fuzz: $bin missing (build with VK_FUZZ=ON)"; failed=1; continue; }
  corpus=$build/fuzz/corpus/$t
  findings=$build/fuzz/findings/$t
  mkdir -p "$corpus" "$findings"
  extra=()
  [ -d "$src/fuzz/regressions/$t" ] && extra=("$src/fuzz/regressions/$t")
  log=$build/fuzz/$t.log
  # -malloc_limit_mb=256: no single allocation above the issue's 256 MiB bound for one input; RSS is
  # allowed ASan's overhead (shadow, quarantine) on top: the real bound is shown without sanitizers by
  # tests/cli/hostile_cli_test.cpp.
  ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}:quarantine_size_mb=64" \
  "$bin" "$corpus" "$build/fuzz/seeds/$t" "${extra[@]}" -max_total_time="$seconds" -max_len="$(max_len "$t")" \
    -rss_limit_mb=1024 -malloc_limit_mb=256 -timeout=10 -artifact_prefix="$findings/" \
    -print_final_stats=1 ${FUZZ_RUNS:+-runs="$FUZZ_RUNS"} >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  execs=${execs:-0}
  total=$((total + execs))
  if [ $rc -ne 0 ]; then
    failed=1
    echo "fuzz_$t: FINDING after $execs executions (exit $rc), see $log and $findings/"
    grep -m5 -E "ERROR|SUMMARY|runtime error" "$log" | sed 's/^/  /'
  else
    echo "fuzz_$t: $execs executions in ${seconds}s, 0 findings"
  fi
done
echo "fuzz: $total executions in total"
exit $failed
