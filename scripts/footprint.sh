#!/usr/bin/env bash
# What the desktop app costs a person who leaves it running: the release
# build, measured as a new user would run it, under Xvfb with D-Bus and the
# keyring (scripts/desktop-session.sh), in a private network namespace.
#
# The reference authorization server runs as its own process
# (`reference-as demo`), so its CPU and memory are not the app's; three
# grants (accounts one, two, three, one demo server each) are made with
# `mcp-passport login` before the app starts, and the app is pointed at
# the same home and keyring.
#
# Figures (per process: the app, and WebKit's web and network processes):
#   - CPU seconds (utime + stime, /proc/<pid>/stat) per minute of idling,
#     measured over IDLE seconds starting 5 s after the app is ready:
#     hidden with no grants, hidden with three grants, open with three grants;
#   - RSS (VmRSS) at the end of each idle period, and what it is made of
#     (/proc/<pid>/smaps): ours (anonymous memory: heap, JavaScript heap,
#     stacks, plus our executable's pages) against the platform's
#     (GTK's, WebKit's and other libraries' pages and fonts, which every
#     GTK/WebKit app on the desktop maps too), PSS, and RSS by kind of
#     mapping;
#   - the dashboard closed again (`examples/close_window`, as a window
#     manager's close button) and dropped once hidden for
#     MCP_PASSPORT_DASHBOARD_KEEP_SECONDS (5 s here; 60 s by default);
#   - a baseline in the same run: the same Tauri and WebKitGTK on an empty
#     page (`examples/blank_page`, same release profile), so the web
#     process's figure is set beside what WebKit costs with nothing in it;
#   - cold start of `mcp-passport-app --hidden` to the broker answering
#     (the first HTTP answer on the port named in the endpoint file), and
#     its steps (the app's `start` lines at debug: main began, session
#     claimed, controller opened, broker started, window system up, tray
#     created, shell attached), in ms since the launch;
#   - the dashboard opened (a second launch, as the desktop's launcher does)
#     to its page loaded (the app's `dashboard page loaded` log line, from
#     WebKit's load-finished: HTML, CSS and scripts in, the first overview asked),
#     and its steps (the app's `dashboard` lines at debug: the later launch
#     handed over, the window made, the page load started, the first
#     overview made for the page);
#   - `mcp-passport headers <id>` start to exit against the running broker
#     (median of 15 runs after one warm-up).
# Prints a table (figure, value, goal, met/missed) and exits 1 when a goal
# is missed.
#
# Usage: scripts/footprint.sh [--no-build]
#   FOOTPRINT_IDLE_SECONDS (default 60) shortens the idle periods for a try;
#   FOOTPRINT_BIN_DIR measures the binaries in another folder (e.g. a copy
#   of an earlier build, to compare) and builds nothing.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
self="$root/scripts/footprint.sh"
bin="${FOOTPRINT_BIN_DIR:-$root/target/release}"
idle="${FOOTPRINT_IDLE_SECONDS:-60}"
settle=5

die() {
  echo "footprint: $*" >&2
  exit 2
}

# ---- outside: build, then run the rest in a private network and desktop session
if [[ ${1:-} != --inside ]]; then
  if [[ ${1:-} != --no-build && -z ${FOOTPRINT_BIN_DIR:-} ]]; then
    (cd "$root" && cargo build --release --workspace --features mcp-passport-app/demo --bins) ||
      die "the release build failed (see above)"
    # Apart: examples take the dev-dependencies' features, which must not
    # change the app's own build.
    (cd "$root" && cargo build --release --workspace --features mcp-passport-app/demo \
      --example blank_page --example close_window) ||
      die "the release build of the examples failed (see above)"
  fi
  for b in mcp-passport-app mcp-passport reference-as examples/blank_page examples/close_window; do
    [[ -x $bin/$b ]] || die "$bin/$b is missing; run without --no-build"
  done
  if [[ $(id -u) == 0 ]]; then
    isolate=(unshare -n)
  else
    isolate=(unshare -rn)
  fi
  exec "${isolate[@]}" -- bash -c 'ip link set lo up && exec bash "$1/scripts/desktop-session.sh" bash "$2" --inside' \
    _ "$root" "$self"
fi

# ---- inside the session
work="$(mktemp -d)"
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

clk_tck="$(getconf CLK_TCK)"
ms_now() { echo $(($(date +%s%N) / 1000000)); }

# utime + stime of a process, in clock ticks (0 once it is gone).
ticks() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || {
    echo 0
    return
  }
  stat="${stat##*) }"
  # shellcheck disable=SC2086
  set -- $stat
  echo $((${12} + ${13}))
}

# VmRSS of a process, in MB.
rss_mb() {
  awk '/^VmRSS:/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo 0
}

# The WebKit helper processes under `$1`, as "pid kind" lines (kind: web, network).
webkit_children() {
  local app=$1 dir pid comm up
  for dir in /proc/[0-9]*; do
    pid=${dir#/proc/}
    comm="$(cat "$dir/comm" 2>/dev/null)" || continue
    case $comm in
      WebKitWebProces*) kind=web ;;
      WebKitNetworkPr*) kind=network ;;
      *) continue ;;
    esac
    up=$pid
    while [[ $up -gt 1 ]]; do
      up="$(awk '{ sub(/.*\) /, ""); print $2 }' "/proc/$up/stat" 2>/dev/null)" || break
      if [[ $up == "$app" ]]; then
        echo "$pid $kind"
        break
      fi
    done
  done
}

# ---- the authorization server, apart
"$bin/reference-as" demo --port 0 --ready-file "$work/ready.json" >/dev/null 2>"$work/as.log" &
pids+=($!)
for _ in $(seq 200); do [[ -s $work/ready.json ]] && break; sleep 0.05; done
[[ -s $work/ready.json ]] || die "the demo authorization server did not start: $(cat "$work/as.log")"
issuer="$(sed -n 's/.*"issuer": *"\([^"]*\)".*/\1/p' "$work/ready.json")"
[[ -n $issuer ]] || die "no issuer in $(cat "$work/ready.json")"

printf '#!/bin/sh\nexec "%s" approve --servers "$FOOTPRINT_PICK" "$1" >/dev/null\n' "$bin/reference-as" >"$work/browser.sh"
chmod +x "$work/browser.sh"
export NO_COLOR=1 BROWSER="$work/browser.sh" MCP_PASSPORT_PORT=0
# A closed dashboard is dropped after 5 s rather than 60, to measure it soon.
export MCP_PASSPORT_DASHBOARD_KEEP_SECONDS=5
export MCP_PASSPORT_KEYRING_SERVICE="io.github.mcppassport.footprint-$$"

app_pid=""
app_log=""
home=""

app_running() {
  dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus.NameHasOwner string:io.github.mcppassport.SingleInstance 2>/dev/null |
    grep -q 'boolean true'
}

# The steps the app logged (`<what> step="..."` lines at debug, the first of
# each) since $2
# (epoch ms), as "step ms, step ms", ms since $2; $1 is what (start, dashboard).
# A start's `main began` is its first step's time less that step's own `ms`
# (milliseconds since main began): what exec and dynamic linking took.
steps_since() {
  awk -v what="$1" -v t0="$2" '
    index($0, " " what " step=\"") {
      split($1, dt, "T"); split(dt[2], hms, ":"); sub(/Z$/, "", hms[3])
      at = (hms[1] * 3600 + hms[2] * 60 + hms[3]) * 1000 - t0 % 86400000
      if (at < 0) next
      match($0, /step="[^"]*"/); step = substr($0, RSTART + 6, RLENGTH - 7)
      if (seen[step]++) next
      if (what == "start" && !began && match($0, / ms=[0-9.]+/)) {
        printf "main began %.0f", at - substr($0, RSTART + 4, RLENGTH - 4); sep = ", "; began = 1
      }
      printf "%s%s %.0f", sep, step, at; sep = ", "
    }
    END { print "" }' "$app_log"
}

# Starts the app (arguments: its flags) on $home; sets $app_pid, and
# $started to the milliseconds from its start to the broker's first answer,
# $start_steps to its steps.
start_app() {
  local t0 port code
  rm -f "$home/run/endpoint.json"
  app_log="$work/app-$(date +%s%N).log"
  t0=$(ms_now)
  MCP_PASSPORT_HOME="$home" MCP_PASSPORT_LOG=info,passport_app=debug "$bin/mcp-passport-app" "$@" >/dev/null 2>"$app_log" &
  app_pid=$!
  pids+=("$app_pid")
  while :; do
    if [[ -s $home/run/endpoint.json ]]; then
      port="$(sed -n 's/.*"port": *\([0-9]*\).*/\1/p' "$home/run/endpoint.json")"
      if [[ -n $port ]]; then
        code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port/v1/servers" || true)"
        [[ $code != 000 ]] && break
      fi
    fi
    kill -0 "$app_pid" 2>/dev/null || die "the app stopped: $(cat "$app_log")"
    (($(ms_now) - t0 < 20000)) || die "the broker did not answer within 20 s: $(cat "$app_log")"
    sleep 0.002
  done
  started=$(($(ms_now) - t0))
  sleep 1 # the window system's steps, logged after the broker answers
  start_steps="$(steps_since start "$t0")"
}

stop_app() {
  kill "$app_pid" 2>/dev/null || true
  wait "$app_pid" 2>/dev/null || true
  for _ in $(seq 200); do app_running || break; sleep 0.05; done
  ! app_running || die "the app's single-instance name is still held after it stopped"
}

# Opens the dashboard as a launcher does (a second launch hands over to the
# running app); sets $opened to the milliseconds to the page loaded.
open_dashboard() {
  local t0 line at
  t0=$(ms_now)
  MCP_PASSPORT_HOME="$home" "$bin/mcp-passport-app" >/dev/null 2>>"$work/second-launch.log" || true
  for _ in $(seq 400); do
    line="$(grep -m1 'dashboard page loaded' "$app_log" || true)"
    [[ -n $line ]] && break
    sleep 0.025
  done
  opened=n/a
  open_steps=n/a
  [[ -n $line ]] || return 0
  at="$(date -d "${line%% *}" +%s%N)"
  opened=$((at / 1000000 - t0))
  open_t0=$t0
}

# Idles $idle seconds; sets cpu_app, cpu_web, cpu_net (s per minute),
# rss_app, rss_web, rss_net (MB).
declare -A before
measure_idle() {
  local line pid kind
  sleep "$settle"
  before=([app]=$(ticks "$app_pid"))
  while read -r pid kind; do before[$pid]=$(ticks "$pid"); done < <(webkit_children "$app_pid")
  sleep "$idle"
  per_min() { awk -v t="$1" -v hz="$clk_tck" -v s="$idle" 'BEGIN { printf "%.2f", t / hz * 60 / s }'; }
  cpu_app=$(per_min $(($(ticks "$app_pid") - before[app])))
  local web=0 net=0
  rss_web=0 rss_net=0 web_pid="" net_pid=""
  while read -r pid kind; do
    local used=$(($(ticks "$pid") - ${before[$pid]:-0}))
    if [[ $kind == web ]]; then
      web=$((web + used))
      rss_web=$((rss_web + $(rss_mb "$pid")))
      web_pid=${web_pid:-$pid}
    else
      net=$((net + used))
      rss_net=$((rss_net + $(rss_mb "$pid")))
      net_pid=${net_pid:-$pid}
    fi
  done < <(webkit_children "$app_pid")
  cpu_web=$(per_min "$web")
  cpu_net=$(per_min "$net")
  cpu_all=$(awk -v a="$cpu_app" -v b="$cpu_web" -v c="$cpu_net" 'BEGIN { printf "%.2f", a + b + c }')
  rss_app=$(rss_mb "$app_pid")
  anon_app=$(awk '/^RssAnon:/ { printf "%.0f", $2 / 1024 }' "/proc/$app_pid/status")
}

# What a process's resident memory is made of, from /proc/<pid>/smaps, in
# MB: sets m_rss, m_pss, m_anon (anonymous: heap, JavaScript heap, stacks,
# copy-on-write data: all private to the process), m_ours (m_anon plus our
# executable's own pages), m_platform (the rest: libraries, fonts and other
# files, shared with every GTK/WebKit app on the desktop), m_shared (pages
# another process maps too) and m_kinds (RSS by kind of mapping, largest
# first).
mem_of() {
  local pid=$1 exe
  exe="$(readlink "/proc/$pid/exe" 2>/dev/null || true)"
  m_rss=0 m_pss=0 m_anon=0 m_ours=0 m_platform=0 m_shared=0 m_kinds="(process gone)"
  [[ -r /proc/$pid/smaps ]] || return 0
  local summary
  summary="$(awk -v exe="$exe" '
    function kind(n) {
      if (n == exe) return "our executable"
      if (n ~ /libwebkit2gtk/) return "libwebkit2gtk"
      if (n ~ /libjavascriptcoregtk/) return "libjavascriptcoregtk"
      if (n ~ /lib(gtk|gdk)-3/) return "GTK"
      if (n ~ /\.(ttf|otf|ttc|pfb|pcf)|fontconfig|\.cache-[0-9]/) return "fonts"
      if (n ~ /libicu|icudt/) return "ICU"
      if (n ~ /libLLVM|\/dri\/|libgallium/) return "Mesa (software GL, LLVM)"
      if (n ~ /\.so/) return "other libraries"
      if (n == "[heap]") return "heap"
      if (n == "") return "anonymous mappings"
      if (n ~ /^\[/) return n
      if (n ~ /memfd:|^\/dev\/shm|SYSV/) return "shared memory"
      return "other files"
    }
    /^[0-9a-f]+-[0-9a-f]+ / { name = ""; for (i = 6; i <= NF; i++) name = name (i > 6 ? " " : "") $i; k = kind(name); next }
    /^Rss:/ { rss += $2; by[k] += $2 }
    /^Pss:/ { pss += $2 }
    /^Anonymous:/ { anon += $2; if (k == "our executable") binanon += $2 }
    /^Shared_(Clean|Dirty):/ { shared += $2 }
    END {
      ours = anon + by["our executable"] - binanon
      printf "%.0f %.0f %.0f %.0f %.0f %.0f ", rss / 1024, pss / 1024, anon / 1024, ours / 1024, (rss - ours) / 1024, shared / 1024
      n = 0
      for (x in by) if (by[x] >= 1024) line[n++] = sprintf("%09d %s %.0f", by[x], x, by[x] / 1024)
      for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (line[j] > line[i]) { t = line[i]; line[i] = line[j]; line[j] = t }
      for (i = 0; i < n; i++) { sub(/^[0-9]+ /, "", line[i]); printf "%s%s MB", (i ? ", " : ""), line[i] }
      printf "\n"
    }' "/proc/$pid/smaps" 2>/dev/null)" || return 0
  read -r m_rss m_pss m_anon m_ours m_platform m_shared m_kinds <<<"$summary"
}

details=()
# mem_rows LABEL PID GOAL: a process's RSS (against GOAL) and what it is made of.
mem_rows() {
  local label=$1 pid=$2 goal=$3
  mem_of "$pid"
  row "$label RSS" "$m_rss" "MB" "$goal"
  row "$label: ours" "$m_ours" "MB" -
  row "$label: platform's" "$m_platform" "MB" -
  row "$label: PSS" "$m_pss" "MB" -
  details+=("$label ($m_rss MB; $m_anon MB anonymous, $m_shared MB shared with other processes): $m_kinds")
}

rows=()
missed=0
# row FIGURE VALUE UNIT GOAL(number or -) : value < goal is met.
row() {
  local verdict="-"
  if [[ $4 != - ]]; then
    if [[ $2 != n/a ]] && awk -v v="$2" -v g="$4" 'BEGIN { exit !(v < g) }'; then
      verdict=met
    else
      verdict=missed
      missed=1
    fi
  fi
  rows+=("$(printf '| %-68s | %9s %-5s | %-9s | %-6s |' "$1" "$2" "$3" "${4/#-/–}" "$verdict")")
}

# ---- 1. no grants, started hidden
home="$work/empty"
mkdir -p "$home"
start_app --hidden
start_empty=$started
start_empty_steps=$start_steps
measure_idle
row "closed (--hidden), no grants: app + WebKit CPU" "$cpu_all" "s/min" 0.1
mem_rows "closed (--hidden), no grants: app" "$app_pid" 100
stop_app

# ---- 2. three grants
home="$work/home"
mkdir -p "$home"
i=0
for server in github-mcp slack-mcp notion-mcp; do
  i=$((i + 1))
  label=$(echo one two three | cut -d' ' -f$i)
  FOOTPRINT_PICK=$server MCP_PASSPORT_HOME="$home" MCP_PASSPORT_NO_AUTOSTART=1 \
    "$bin/mcp-passport" login "$issuer" --account "$label" >"$work/login.log" 2>&1 ||
    die "login $label failed: $(cat "$work/login.log")"
done
grants=$(grep -o '"mode" *:' "$home/state.json" | wc -l)
[[ $grants == 3 ]] || die "expected 3 grants after three logins, found $grants"

start_app --hidden
start_hidden=$started
start_hidden_steps=$start_steps
measure_idle
row "closed (--hidden), 3 grants: app + WebKit CPU" "$cpu_all" "s/min" 0.1
mem_rows "closed (--hidden), 3 grants: app" "$app_pid" 100
closed_detail="app $cpu_app s, WebKit web $cpu_web s, network $cpu_net s; RSS app $rss_app MB ($anon_app MB anonymous)"

MCP_PASSPORT_HOME="$home" "$bin/mcp-passport" headers github-mcp >/dev/null 2>"$work/headers.log" ||
  die "mcp-passport headers failed: $(cat "$work/headers.log")"
times=()
for _ in $(seq 15); do
  t0=$(date +%s%N)
  MCP_PASSPORT_HOME="$home" "$bin/mcp-passport" headers github-mcp >/dev/null
  times+=($((($(date +%s%N) - t0) / 100000)))
done
headers_ms=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 8p | awk '{ printf "%.1f", $1 / 10 }')

open_dashboard
measure_idle
[[ $opened == n/a ]] || open_steps="$(steps_since dashboard "$open_t0")"
row "open, 3 grants: app + WebKit CPU" "$cpu_all" "s/min" 0.5
mem_rows "open, 3 grants: app (without WebKit's helpers)" "$app_pid" 100
open_app_rss=$m_rss open_app_ours=$m_ours
mem_rows "open, 3 grants: WebKit web process" "${web_pid:-0}" 150
open_web_rss=$m_rss open_web_ours=$m_ours
mem_rows "open, 3 grants: WebKit network process" "${net_pid:-0}" -
open_detail="app $cpu_app s, WebKit web $cpu_web s, network $cpu_net s; RSS app $rss_app MB ($anon_app MB anonymous)"

# ---- 3. closed again: the window hidden, then dropped with its web view
"$bin/examples/close_window" "MCP Passport" || die "could not close the dashboard"
dropped=""
for _ in $(seq 400); do
  dropped="$(grep -m1 'hidden dashboard dropped' "$app_log" || true)"
  [[ -n $dropped ]] && break
  sleep 0.05
done
[[ -n $dropped ]] || die "the closed dashboard was not dropped within 20 s: $(tail -n 5 "$app_log")"
measure_idle
row "closed after being open, 3 grants: app + WebKit CPU" "$cpu_all" "s/min" 0.1
mem_rows "closed after being open, 3 grants: app" "$app_pid" 100
row "closed after being open: WebKit web process RSS (none left: 0)" "$rss_web" "MB" -
row "closed after being open: WebKit network process RSS" "$rss_net" "MB" -
# What the drop costs the next opening: the window and its page made again.
t0=$(ms_now)
MCP_PASSPORT_HOME="$home" "$bin/mcp-passport-app" >/dev/null 2>>"$work/second-launch.log" || true
reopened=n/a
for _ in $(seq 400); do
  line="$(grep 'dashboard page loaded' "$app_log" | sed -n 2p)"
  if [[ -n $line ]]; then
    reopened=$(($(date -d "${line%% *}" +%s%N) / 1000000 - t0))
    break
  fi
  sleep 0.025
done
row "dropped dashboard opened again to page loaded" "$reopened" "ms" -
stop_app

# ---- 4. baseline: the same WebKit on an empty page
app_log="$work/blank.log"
"$bin/examples/blank_page" >/dev/null 2>"$app_log" &
app_pid=$!
pids+=("$app_pid")
for _ in $(seq 400); do
  grep -qs 'blank page loaded' "$app_log" && break
  kill -0 "$app_pid" 2>/dev/null || die "the blank page stopped: $(cat "$app_log")"
  sleep 0.05
done
grep -q 'blank page loaded' "$app_log" || die "the blank page did not load within 20 s: $(cat "$app_log")"
measure_idle
row "empty page (baseline): app + WebKit CPU" "$cpu_all" "s/min" -
mem_rows "empty page (baseline): its app process" "$app_pid" -
base_app_rss=$m_rss base_app_ours=$m_ours
mem_rows "empty page (baseline): WebKit web process" "${web_pid:-0}" -
base_web_rss=$m_rss base_web_ours=$m_ours
mem_rows "empty page (baseline): WebKit network process" "${net_pid:-0}" -
row "open dashboard beyond the empty page: app RSS" "$((open_app_rss - base_app_rss))" "MB" -
row "open dashboard beyond the empty page: app ours" "$((open_app_ours - base_app_ours))" "MB" -
row "open dashboard beyond the empty page: web process RSS" "$((open_web_rss - base_web_rss))" "MB" -
row "open dashboard beyond the empty page: web process ours" "$((open_web_ours - base_web_ours))" "MB" -
kill "$app_pid" 2>/dev/null || true
wait "$app_pid" 2>/dev/null || true

row "cold start --hidden to broker answering, no grants" "$start_empty" "ms" 300
row "cold start --hidden to broker answering, 3 grants" "$start_hidden" "ms" 300
row "dashboard opened to page loaded (3 grants)" "$opened" "ms" -
row "mcp-passport headers start to exit (median of 15)" "$headers_ms" "ms" 20

echo
echo "MCP Passport idle footprint (release, Xvfb; ${idle} s idle periods; $grants grants at $issuer)"
printf '| %-68s | %-15s | %-9s | %-6s |\n' figure value goal result
printf '|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..70})" "$(printf -- '-%.0s' {1..17})" "$(printf -- '-%.0s' {1..11})" "$(printf -- '-%.0s' {1..8})"
printf '%s\n' "${rows[@]}"
echo
echo "closed, 3 grants: $closed_detail"
echo "open, 3 grants:   $open_detail"
echo "start --hidden, no grants, first in the session (ms since launch): $start_empty_steps; broker answered $start_empty"
echo "start --hidden, 3 grants (ms since launch): $start_hidden_steps; broker answered $start_hidden"
echo "dashboard opened (ms since the launcher's launch): $open_steps, page loaded $opened"
echo
echo "Ours: anonymous memory (heap, JavaScript heap, stacks, copy-on-write data) and our"
echo "executable's pages. Platform's: libraries', fonts' and other files' pages, which every"
echo "GTK/WebKit app on the desktop maps too. Resident memory by kind of mapping (MB):"
printf -- '- %s\n' "${details[@]}"
exit "$missed"
