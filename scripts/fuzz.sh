#!/usr/bin/env bash
# Runs every fuzz target of fuzz/ for a bounded time: the callback and
# deep-link parser, WWW-Authenticate challenges, AS and protected resource
# metadata, token endpoint answers, scope strings, the broker's request
# handling and key file, and client config editing (docs/robustness.md
# lists them).
#
# Installs cargo-fuzz when it is missing, builds all targets once, then runs
# each from its seeds (fuzz/seeds/<target>) plus what earlier runs found
# (fuzz/corpus/<target>). A crash fails the run and names the input that
# caused it; reproduce with: fuzz/target/<triple>/release/<target> <input>.
#
# Usage: scripts/fuzz.sh [seconds-per-target]   (default 20)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root/fuzz"

seconds=${1:-20}
if ! [[ $seconds =~ ^[1-9][0-9]*$ ]]; then
  echo "fuzz: usage: scripts/fuzz.sh [seconds-per-target]" >&2
  exit 2
fi

# cargo-fuzz passes nightly flags (-Zsanitizer=address and the coverage
# passes); this lets the stable toolchain accept them.
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
  start=$SECONDS
  echo "fuzz: installing cargo-fuzz"
  if ! cargo install cargo-fuzz --locked; then
    echo "fuzz: could not install cargo-fuzz (cargo install cargo-fuzz --locked failed above)" >&2
    exit 1
  fi
  echo "fuzz: cargo-fuzz installed in $((SECONDS - start))s"
fi

start=$SECONDS
if ! cargo fuzz build; then
  echo "fuzz: the fuzz targets do not build; fix the errors above (cargo fuzz build, in fuzz/)" >&2
  exit 1
fi
echo "fuzz: built all targets in $((SECONDS - start))s"

triple="$(rustc -vV | sed -n 's/^host: //p')"
bin_dir="target/$triple/release"
log_dir="target/logs"
mkdir -p "$log_dir"
mapfile -t targets < <(cargo fuzz list)
if [[ ${#targets[@]} -eq 0 ]]; then
  echo "fuzz: cargo fuzz list found no targets" >&2
  exit 1
fi

# One libFuzzer statistic from a run's log.
stat() {
  sed -n "s/^stat::$1: *//p" "$2" | tail -n 1
}

failed=()
printf '%-18s %12s %10s %8s\n' target execs execs/s new
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target" "artifacts/$target" "seeds/$target"
  log="$log_dir/$target.log"
  status=0
  ASAN_OPTIONS="detect_odr_violation=0:${ASAN_OPTIONS:-}" \
    "$bin_dir/$target" "corpus/$target" "seeds/$target" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 \
    -print_final_stats=1 -artifact_prefix="artifacts/$target/" >"$log" 2>&1 || status=$?
  execs="$(stat number_of_executed_units "$log")"
  printf '%-18s %12s %10s %8s\n' "$target" "${execs:-0}" "$(stat average_exec_per_sec "$log")" \
    "$(stat new_units_added "$log")"
  if [[ $status -ne 0 ]]; then
    input="$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)"
    echo "fuzz: $target failed (exit $status); input: fuzz/${input:-<none written>}; log: fuzz/$log" >&2
    grep -m 1 -A 4 -E "panicked at|ERROR: (libFuzzer|AddressSanitizer)" "$log" >&2 || tail -n 20 "$log" >&2
    failed+=("$target")
  elif [[ ${execs:-0} -eq 0 ]]; then
    echo "fuzz: $target ran no inputs; log: fuzz/$log" >&2
    failed+=("$target")
  fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]}. Reproduce with fuzz/$bin_dir/<target> <input>; fix the parser and add the input as a regression test next to it." >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} targets ran ${seconds}s each without a crash"
