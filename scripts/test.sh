#!/usr/bin/env bash
# Runs the whole test suite: setup, formatting, lints, then every test of the
# workspace inside a throwaway desktop session (Xvfb, D-Bus, gnome-keyring),
# the desktop app's GUI tests twice more (each in a new session: they must
# pass three times in a row), a scan of everything the tests printed or logged for the secrets they
# handled (scripts/leak-scan.sh), the desktop app's .deb (scripts/package.sh
# --debug), and each fuzz target for 20 s (scripts/fuzz.sh).
#
# Usage: scripts/test.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

started=$SECONDS
timings=()
test_log="$(mktemp)"
trap 'rm -f "$test_log"' EXIT
# The reference AS records every code, verifier, token and client secret it
# handles here during the test phase, for the leak scan (a test aid; see
# crates/reference-as/src/secrets_log.rs).
secrets_dir="$root/target/test-secrets"
# One cargo selection for lints, tests and the GUI reruns, so the tauri stack
# is built once and the reruns rebuild nothing. The app's `demo` feature (the
# embedded demo stack) is on so its code is linted and tested.
cargo_selection=(--workspace --features mcp-passport-app/demo)
gui_runs=3

# Runs one phase and times it; on failure prints the timings so far and what to do next.
phase() {
  local name=$1 next=$2 start=$SECONDS
  shift 2
  if ! "$@"; then
    timings+=("$name $((SECONDS - start))s (failed)")
    echo "test: phases: ${timings[*]}" >&2
    echo "test: $name failed. $next" >&2
    return 1
  fi
  timings+=("$name $((SECONDS - start))s")
}

check_toolchain() {
  local component
  for component in fmt clippy; do
    if ! cargo "$component" --version >/dev/null 2>&1; then
      echo "test: cargo $component is missing; install it with: rustup component add $([[ $component == fmt ]] && echo rustfmt || echo clippy)" >&2
      return 1
    fi
  done
}

# cargo test's output is kept for the totals and the leak scan (with the
# output of passing tests too); its exit code decides.
run_tests() {
  rm -rf "$secrets_dir"
  mkdir -p "$secrets_dir"
  REFERENCE_AS_SECRETS_LOG="$secrets_dir/reference-as.log" \
    bash scripts/desktop-session.sh cargo test "${cargo_selection[@]}" --no-fail-fast -- --show-output 2>&1 | tee "$test_log"
}

# The GUI test binary again, runs 2..gui_runs, each in a fresh desktop
# session, with the same cargo selection: a run whose GUI test binary is not
# the first run's (another feature set or profile: cargo names the binary
# by a hash of both) fails, so the reruns test what the first run built.
# (On a fresh clone the first rerun may relink the app once: tauri-build
# creates src-tauri/permissions during the first build, and cargo then sees
# that folder as changed. The binary's name does not change.)
gui_binary() {
  sed -n 's|^ *Running tests/gui.rs (\(.*\))$|\1|p' "$1" | tail -n 1
}

gui_reruns() {
  local run rerun_log rc=0 first
  first="$(gui_binary "$test_log")"
  if [[ -z $first ]]; then
    echo "test: the test phase ran no GUI test binary (tests/gui.rs); nothing to run again." >&2
    return 1
  fi
  rerun_log="$(mktemp)"
  for ((run = 2; run <= gui_runs; run++)); do
    echo "test: GUI tests, run $run of $gui_runs"
    if ! REFERENCE_AS_SECRETS_LOG="$secrets_dir/reference-as.log" \
      bash scripts/desktop-session.sh cargo test "${cargo_selection[@]}" --test gui -- --show-output 2>&1 |
      tee "$rerun_log" | tee -a "$test_log"; then
      rc=1
      break
    fi
    if [[ $(gui_binary "$rerun_log") != "$first" ]]; then
      echo "test: GUI run $run ran $(gui_binary "$rerun_log"), not the first run's $first: give it the test phase's cargo selection (${cargo_selection[*]})." >&2
      rc=1
      break
    fi
  done
  rm -f "$rerun_log"
  return "$rc"
}

# SECURITY-CASES 36: the scan proves itself first, then looks for every
# recorded secret in the test output and the logs tests keep under target/.
leak_scan() {
  bash scripts/leak-scan.sh --self-test &&
    bash scripts/leak-scan.sh --secrets "$secrets_dir" "$test_log" target/test-logs target/soak-report.txt
}

# Sums cargo test's "test result:" lines.
totals() {
  awk '/^test result:/ {
         for (i = 1; i <= NF; i++) {
           if ($(i + 1) ~ /^passed/) passed += $i
           if ($(i + 1) ~ /^failed/) failed += $i
           if ($(i + 1) ~ /^ignored/) ignored += $i
         }
       }
       END { printf "%d passed, %d failed, %d skipped\n", passed, failed, ignored }' "$test_log"
}

phase setup "Fix what scripts/setup.sh reported above, then run scripts/test.sh again." \
  bash scripts/setup.sh || exit 1
check_toolchain || exit 1
phase fmt "Run 'cargo fmt --all' and commit the result." \
  cargo fmt --all --check || exit 1
phase clippy "Fix the warnings above (cargo clippy ${cargo_selection[*]} --all-targets -- -D warnings)." \
  cargo clippy --quiet "${cargo_selection[@]}" --all-targets -- -D warnings || exit 1
if ! phase test "Rerun one test binary with: scripts/desktop-session.sh cargo test -p <crate> --test <name>" run_tests; then
  echo "summary: $(totals)"
  exit 1
fi
if ! phase gui-reruns "A GUI test that passes once and fails on a rerun is a race: find it (scripts/desktop-session.sh cargo test -p mcp-passport-app --features demo --test gui)." gui_reruns; then
  echo "summary: $(totals)"
  exit 1
fi
if ! phase leak-scan "Find where the secret named above is printed or logged and remove it (scripts/leak-scan.sh)." leak_scan; then
  echo "summary: $(totals)"
  exit 1
fi
if ! phase package "See the tauri output above; scripts/package.sh --debug reruns this step." \
  bash scripts/package.sh --debug; then
  echo "summary: $(totals)"
  exit 1
fi
if ! phase fuzz "Reproduce with the input named above, fix the parser and add a regression test next to it (docs/robustness.md)." \
  bash scripts/fuzz.sh 20; then
  echo "summary: $(totals)"
  exit 1
fi

echo "test: phases: ${timings[*]}; total $((SECONDS - started))s"
echo "summary: $(totals)"
