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

# wait_for FILE TEXT: until FILE contains TEXT, at most 10 s.
wait_for() { wait_until grep -q -- "$2" "$1" 2>/dev/null; }

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
