# The helpers every script in book/scripts shares. Sourced, never run:
#
#   . "$(dirname "$0")/common.sh"
#
# Every step is bounded: a program runs under `timeout` (`bounded SECONDS CMD...`), and every
# wait polls for at most a fixed time. A script that shows the lessons' default port, 8888, runs
# its parts in network namespaces of its own (`run_parts`), where 8888 is always free and no
# TIME_WAIT from an earlier run is left: this needs root. The namespaces are named
# book-SCRIPT-PART-PID and removed when the part ends, however it ends.

# The script's name, for messages, and its absolute path, to run it again inside a namespace.
script_name=$(basename "$0" .sh)
script_path=$(realpath "$0")

note() { echo "$script_name.sh: $*" >&2; }

# have TOOL FILE: true if TOOL is installed; else says that FILE is left as it was.
have() {
  command -v "$1" >/dev/null 2>&1 && return 0
  note "$1 is not installed; leaving $2 as it was"
  return 1
}

# bounded SECONDS CMD...: CMD, stopped (TERM, then KILL 2 s later) after SECONDS. In the
# background, write `timeout -k 2 SECONDS CMD... &` instead: then $! is timeout's pid, and a
# kill reaches the program (a function in the background runs in a subshell of its own).
bounded() {
  local seconds=$1
  shift
  timeout -k 2 "$seconds" "$@"
}

# wait_until CMD...: polls CMD every 0.1 s, for at most 10 s.
wait_until() {
  local _
  for _ in $(seq 100); do
    "$@" && return 0
    sleep 0.1
  done
  note "gave up waiting for: $*"
  return 1
}

# wait_for FILE PATTERN [SECONDS]: until a line of FILE matches PATTERN (a grep pattern), at
# most SECONDS (10 by default). Shows the end of FILE if it gives up.
wait_for() {
  local _
  for _ in $(seq $((${3:-10} * 10))); do
    grep -q -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  note "gave up waiting for \"$2\" in $1, which ends: $(tail -n 5 "$1" 2>/dev/null)"
  return 1
}

# start_server LOG SECONDS CMD...: starts the server CMD in the background, for at most SECONDS,
# its stdout and stderr together in LOG (in the order a terminal shows them), and waits (at
# most 10 s) for its `listening on` line. CMD may begin with programs that exec the server
# (`env -C DIR`, `prlimit`, `ip netns exec NS`). Sets server_pid to the server's own pid, for
# ps, /proc, prlimit and signals (a signal to the `timeout` around it would start timeout's
# 2 s kill timer), and server_addr to the address it really bound. If the server exits or
# stays silent, says what it printed and returns 1.
start_server() {
  local log=$1 seconds=$2 _
  shift 2
  : >"$log" # emptied first: a `listening on` from an earlier start must not count
  timeout -k 2 "$seconds" "$@" >"$log" 2>&1 &
  server_timeout=$!
  for _ in $(seq 100); do
    if grep -q '^listening on' "$log" 2>/dev/null; then
      server_pid=$(pgrep -P "$server_timeout" | head -n 1 || true)
      server_addr=$(sed -n 's/^listening on //p' "$log" | head -n 1)
      return 0
    fi
    # Gone, or a zombie that nobody has waited for yet: it will not start.
    case $(ps -o stat= -p "$server_timeout" 2>/dev/null) in '' | Z*) break ;; esac
    sleep 0.1
  done
  note "the server did not start ($*): $(cat "$log")"
  stop_server KILL || true
  return 1
}

# stop_server [SIGNAL]: sends SIGNAL (TERM by default) to the server that start_server started,
# and to its children if it has any, then wait_server.
stop_server() {
  if [ -n "${server_pid:-}" ]; then
    # The children first: a server run under strace is strace's child, and must get the signal
    # while strace still watches it, as a signal to the whole process group would.
    pkill "-${1:-TERM}" -P "$server_pid" 2>/dev/null || true
    kill "-${1:-TERM}" "$server_pid" 2>/dev/null || true
  fi
  wait_server
}

# wait_server: waits for the server that start_server started to exit (at most 10 s, then
# KILL), and sets server_status to its exit status (128 + the signal's number if a signal ended
# it). Does nothing if no server is running.
wait_server() {
  server_status=0
  [ -n "${server_timeout:-}" ] || return 0
  if ! timeout 10 tail --pid="$server_timeout" -f /dev/null; then
    kill -KILL ${server_pid:+"$server_pid"} "$server_timeout" 2>/dev/null || true
  fi
  # In braces, so that the shell's own "Killed" notice goes to /dev/null too.
  { wait "$server_timeout" || server_status=$?; } 2>/dev/null
  server_pid="" server_timeout=""
}

# A shell command line as the reader types it.
show() { printf '$ %s\n' "$*"; }

# run_parts OUT PART...: outside a namespace, runs this script once per PART, each in a fresh
# network namespace of its own, all at the same time, each for at most $part_limit seconds
# (default 600), and returns when all have ended: status 1 if any failed. Inside a namespace
# (the script run again by run_parts, with BOOK_PART set), brings up the loopback interface
# and returns 0. A script ends with
#
#   run_parts "$out" PART... || exit 1
#   [ -n "${BOOK_PART:-}" ] || exit 0
#   "part_$BOOK_PART"
run_parts() {
  if [ -n "${BOOK_PART:-}" ]; then
    ip link set lo up
    return 0
  fi
  local out=$1
  shift
  if [ "$(id -u)" != 0 ]; then
    note "needs root, to run in network namespaces of its own; nothing written"
    return 1
  fi
  local part pids=() failed=0
  for part in "$@"; do
    (
      ns="book-$script_name-$part-$$"
      ip netns add "$ns"
      trap 'ip netns del "$ns" 2>/dev/null' EXIT
      BOOK_PART=$part bounded "${part_limit:-600}" ip netns exec "$ns" bash "$script_path" "$out" ||
        { note "part $part failed (status $?)"; exit 1; }
    ) &
    pids+=($!)
  done
  for part in "${pids[@]}"; do wait "$part" || failed=1; done
  return "$failed"
}
