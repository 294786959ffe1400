#!/usr/bin/env bash
# Looks for secrets in logs and captured output (SECURITY-CASES 36): no
# authorization code, PKCE verifier, access or refresh token, client secret
# or client key may appear in anything a test run printed or logged.
#
# What to look for comes from secrets logs: files of `<kind><TAB><value>`
# lines, written during the run by the reference AS when
# REFERENCE_AS_SECRETS_LOG is set (every code, token and client secret it
# issued, every verifier it received) and by anything else that appends to a
# file in the same form. Client keys are also taken from every endpoint.json
# found under the scanned paths and --homes directories, and any string that
# has the form of a client key (mpk_<id>_<secret>) counts as a leak on sight.
#
# A leak is reported by kind, file and count, with the first 12 hex digits of
# the secret's SHA-256 to tell leaks apart; the secret itself is never printed.
#
# Usage: scripts/leak-scan.sh [--secrets FILE-OR-DIR]... [--homes DIR]... PATH...
#        scripts/leak-scan.sh --self-test
# Exit: 0 no leak; 1 leak found, nothing to look for, a path that does not
# exist or a file that cannot be read (a scan that could not look proves
# nothing); 2 usage.
set -euo pipefail

# Values shorter than this are not searched for: they would match by chance.
MIN_LENGTH=16
KEY_FORM='mpk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}'

usage() {
  echo "usage: scripts/leak-scan.sh [--secrets FILE-OR-DIR]... [--homes DIR]... PATH... | --self-test" >&2
  exit 2
}

# Temporary directories, removed when the script ends.
cleanup=()
trap 'rm -rf "${cleanup[@]}"' EXIT

short_hash() {
  printf '%s' "$1" | sha256sum | cut -c1-12
}

# search OUT GREP-ARGS...: grep's matches as file NUL value lines into OUT;
# fails, naming grep's complaint, when a file could not be read.
search() {
  local out=$1 status=0
  shift
  grep -aHZ "$@" >"$out" 2>"$out.err" || status=$?
  if [[ $status -gt 1 ]]; then
    echo "leak-scan: cannot read every file to scan (grep exit $status): $(head -c 300 "$out.err")" >&2
    echo "leak-scan: make the files readable and run the scan again; an unread file may hold a leak" >&2
    return 1
  fi
}

scan() {
  local secrets=() homes=() paths=()
  while [[ $# -gt 0 ]]; do
    case $1 in
      --secrets) [[ $# -ge 2 ]] || usage; secrets+=("$2"); shift 2 ;;
      --homes) [[ $# -ge 2 ]] || usage; homes+=("$2"); shift 2 ;;
      -*) usage ;;
      *) paths+=("$1"); shift ;;
    esac
  done
  [[ ${#paths[@]} -gt 0 ]] || usage

  local work
  work="$(mktemp -d)"
  cleanup+=("$work")

  # Known secrets: kind<TAB>value, one line per distinct value.
  local source
  : >"$work/known"
  for source in "${secrets[@]}"; do
    if [[ -e $source ]]; then
      find "$source" -type f -print0 | xargs -0r cat >>"$work/known"
    fi
  done
  local path
  for path in "${paths[@]}" "${homes[@]}"; do
    if [[ ! -e $path ]]; then
      echo "leak-scan: $path does not exist: the run that should have written it did not; find out why (the scan cannot vouch for what it cannot read)" >&2
      return 1
    fi
  done
  find "${paths[@]}" "${homes[@]}" -type f -name endpoint.json -print0 |
    xargs -0r sed -n 's/.*"key" *: *"\(mpk_[^"]*\)".*/client_key\t\1/p' >>"$work/known"
  awk -F '\t' -v min="$MIN_LENGTH" 'NF == 2 && length($2) >= min && !seen[$2]++' \
    "$work/known" >"$work/secrets"
  cut -f 2 "$work/secrets" >"$work/patterns"

  # The files to scan: every regular file under the paths, except the
  # secrets logs themselves and endpoint files (which hold a key by design).
  : >"$work/files"
  for path in "${paths[@]}"; do
    find "$path" -type f ! -name endpoint.json -print0 >>"$work/files"
  done
  local excluded=()
  for source in "${secrets[@]}"; do
    [[ -e $source ]] && excluded+=("$(realpath "$source")")
  done
  local files=() file real skip
  while IFS= read -r -d '' file; do
    real="$(realpath "$file")"
    skip=0
    for source in "${excluded[@]}"; do
      [[ $real == "$source" || $real == "$source"/* ]] && skip=1
    done
    [[ $skip -eq 0 ]] && files+=("$file")
  done <"$work/files"

  local known
  known="$(wc -l <"$work/secrets")"
  if [[ ${#secrets[@]} -gt 0 && $known -eq 0 ]]; then
    echo "leak-scan: no secret was recorded in ${secrets[*]}, so the scan would prove nothing; was REFERENCE_AS_SECRETS_LOG set for the run?" >&2
    return 1
  fi

  # Matches as file<TAB>value, then counted per file and value.
  # grep exits 0 (found), 1 (nothing found) or 2 (a file could not be read).
  : >"$work/matches"
  if [[ ${#files[@]} -gt 0 ]]; then
    if [[ -s $work/patterns ]]; then
      search "$work/found" -Fo -f "$work/patterns" -- "${files[@]}" || return 1
      tr '\0' '\t' <"$work/found" >>"$work/matches"
    fi
    # Keys by form, unless already found as a known secret.
    search "$work/found" -Eo -- "$KEY_FORM" "${files[@]}" || return 1
    tr '\0' '\t' <"$work/found" |
      awk -F '\t' -v patterns="$work/patterns" '
        BEGIN { while ((getline line < patterns) > 0) known[line] = 1 }
        !($2 in known)' >>"$work/matches"
  fi
  local leaks=0 count where value kind
  while IFS=$'\t' read -r count where value; do
    kind="$(awk -F '\t' -v v="$value" '$2 == v { print $1; exit }' "$work/secrets")"
    echo "leak-scan: LEAK ${kind:-client_key} $(short_hash "$value") in $where ($count times)" >&2
    leaks=$((leaks + 1))
  done < <(sort "$work/matches" | uniq -c | sed 's/^ *\([0-9]*\) /\1\t/')

  local kinds
  kinds="$(cut -f 1 "$work/secrets" | sort | uniq -c | awk '{ printf "%s%s %s", sep, $1, $2; sep = ", " }')"
  if [[ $leaks -gt 0 ]]; then
    echo "leak-scan: $leaks leak(s) in ${#files[@]} file(s); find where the value is printed or logged and remove it" >&2
    return 1
  fi
  echo "leak-scan: ${#files[@]} file(s) scanned for $known secret(s) (${kinds:-none}) and for client keys by form: no leak"
}

# Plants secrets in a temporary directory and checks that the scan finds
# each of them, says which kind and where, and never prints one.
self_test() {
  local dir out status failed=0 self
  self="${BASH_SOURCE[0]}"
  dir="$(mktemp -d)"
  cleanup+=("$dir")
  mkdir -p "$dir/secrets" "$dir/logs" "$dir/user-home/run"
  local code="code-Aq3vT9xLp0Wm2Zr8Yb4Nc6Jd1Ke5Hf7" token="rt-Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0LzXc"
  local key="mpk_0123456789ab_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde"
  local other_key="mpk_ba9876543210_zYxWvUtSrQpOnMlKjIhGfEdCbA9876543210_-edcba"
  printf 'code\t%s\nrefresh_token\t%s\ncode\tshort\n' "$code" "$token" >"$dir/secrets/as.log"
  printf '{"port":1,"key":"%s","pid":1}' "$key" >"$dir/user-home/run/endpoint.json"
  printf 'test ok\nGET /token 200 3ms\n' >"$dir/logs/clean.log"

  check() {
    local name=$1 want=$2
    shift 2
    status=0
    out="$(bash "$self" "$@" 2>&1)" || status=$?
    if [[ $status -ne $want ]]; then
      echo "leak-scan self-test: $name: exit $status, expected $want: $out" >&2
      failed=1
    fi
    if [[ $out == *"$code"* || $out == *"$token"* || $out == *"$key"* || $out == *"$other_key"* ]]; then
      echo "leak-scan self-test: $name: a secret was printed" >&2
      failed=1
    fi
  }
  expect() {
    if [[ $out != *"$1"* ]]; then
      echo "leak-scan self-test: expected '$1' in: $out" >&2
      failed=1
    fi
  }

  check "clean log" 0 --secrets "$dir/secrets" --homes "$dir/user-home" "$dir/logs"
  expect "3 secret(s)"

  printf 'thread panicked: got code=%s\n' "$code" >"$dir/logs/leaky.log"
  check "planted code" 1 --secrets "$dir/secrets" "$dir/logs"
  expect "LEAK code $(short_hash "$code") in $dir/logs/leaky.log (1 times)"

  printf 'Authorization: Bearer %s\n' "$key" >"$dir/logs/leaky.log"
  check "planted key from an endpoint file" 1 --secrets "$dir/secrets" --homes "$dir/user-home" "$dir/logs"
  expect "LEAK client_key $(short_hash "$key")"

  printf 'key=%s\n' "$other_key" >"$dir/logs/leaky.log"
  check "a client key by its form" 1 --secrets "$dir/secrets" "$dir/logs"
  expect "LEAK client_key $(short_hash "$other_key")"

  check "a client key by its form, with no secrets log" 1 "$dir/logs"
  expect "LEAK client_key $(short_hash "$other_key")"

  printf 'short\n' >"$dir/logs/leaky.log"
  check "values too short to search for" 0 --secrets "$dir/secrets" "$dir/logs"

  printf '%s\n' "$token" >"$dir/logs/leaky.log"
  check "the secrets log itself is not a leak" 0 --secrets "$dir/secrets" "$dir/secrets" "$dir/logs/clean.log"
  check "planted refresh token" 1 --secrets "$dir/secrets" "$dir"
  expect "LEAK refresh_token"

  check "a path that does not exist fails the scan" 1 --secrets "$dir/secrets" "$dir/logs/clean.log" "$dir/nowhere"
  expect "nowhere does not exist"

  # A file grep cannot read fails the scan instead of passing as "no match".
  # Root reads any file, so the check runs without the capabilities that
  # let it (as the test runs as root in CI).
  printf '%s\n' "$token" >"$dir/logs/unreadable.log"
  chmod 000 "$dir/logs/unreadable.log"
  local reader=()
  if [[ $(id -u) -eq 0 ]]; then
    reader=(setpriv --bounding-set -dac_override,-dac_read_search --)
  fi
  status=0
  out="$("${reader[@]}" bash "$self" --secrets "$dir/secrets" "$dir/logs" 2>&1)" || status=$?
  if [[ $status -ne 1 || $out != *"cannot read every file"* ]]; then
    echo "leak-scan self-test: an unreadable file: exit $status, expected 1 with 'cannot read every file': $out" >&2
    failed=1
  fi
  rm -f "$dir/logs/unreadable.log"

  : >"$dir/secrets/as.log"
  check "nothing recorded" 1 --secrets "$dir/secrets" "$dir/logs/clean.log"
  expect "no secret was recorded"

  if [[ $failed -ne 0 ]]; then
    echo "leak-scan self-test: failed" >&2
    return 1
  fi
  echo "leak-scan self-test: ok (clean logs pass; planted codes, refresh tokens and client keys are found and named, never printed)"
}

if [[ ${1:-} == --self-test ]]; then
  self_test
else
  scan "$@"
fi
