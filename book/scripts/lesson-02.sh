#!/usr/bin/env bash
# Makes the output chapter 2 shows, from real runs of lesson 02 on 127.0.0.1:8888.
#
#   book/scripts/regen-output.sh lesson-02
#
# regen-output.sh builds the binaries, holds the lock on port 8888 and passes the output
# directory (book/src/output/lesson-02) as $1. The commands written into the files are the ones
# a reader types (`cargo run -q ...`); the script runs the same binaries from target/debug.
#
# Tools: ss is needed. nc (OpenBSD netcat), tcpdump (with the right to capture on lo, e.g.
# root), strace and python3 (with the original programs in ../shared/seed-python) are used when
# present; a step whose tool is missing says so and leaves its old file as it was.
set -uo pipefail
out=$1
cd "$(dirname "$0")/../.."
server=target/debug/lesson-02
client=target/debug/lesson-02-client
seed=../shared/seed-python
run_server='cargo run -q -p lesson-02'
run_client='cargo run -q -p lesson-02 --bin lesson-02-client'
tmp=$(mktemp -d)
background=()
cleanup() {
  for pid in "${background[@]}"; do kill "$pid" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

note() { echo "lesson-02.sh: $*" >&2; }
have() {
  command -v "$1" >/dev/null 2>&1 && return 0
  note "$1 is not installed; leaving $2 as it was"
  return 1
}
# Polls a condition for at most 10 s.
wait_until() {
  for _ in $(seq 100); do "$@" && return 0; sleep 0.1; done
  note "gave up waiting for: $*"
  return 1
}
# TIME_WAIT lasts 60 s. A server without SO_REUSEADDR (server.py, lesson 02 with
# --no-reuseaddr, other lessons) cannot bind a port that has one, so wait them out.
port_has_no_time_wait() { [ -z "$(ss -tanH state time-wait "( sport = :$1 )")" ]; }
wait_out_time_wait() {
  port_has_no_time_wait "$1" && return 0
  note "waiting for the TIME_WAIT connections on port $1 to expire (up to a minute)"
  for _ in $(seq 70); do port_has_no_time_wait "$1" && return 0; sleep 1; done
  note "port $1 still has connections in TIME_WAIT"
}
gone() { ! kill -0 "$1" 2>/dev/null; }
listening_on() { [ -n "$(ss -tlnH "( sport = :$1 )")" ]; }

# start_server LOG ARGS...: lesson 02's server in the background; its pid in $server_pid.
start_server() {
  local log=$1
  shift
  "$server" "$@" >"$log" 2>&1 &
  server_pid=$!
  background+=("$server_pid")
  wait_until grep -q '^listening on' "$log"
}
stop_server() {
  kill "$server_pid" 2>/dev/null
  wait "$server_pid" 2>/dev/null
}
# The local port of this shell's connection on file descriptor FD to port 8888.
my_port() {
  ss -tanpH "( dport = :8888 )" | grep "pid=$$,fd=$1)" | awk '{print $4}' | sed 's/.*://'
}
# A shell command line as the reader types it.
show() { printf '$ %s\n' "$*"; }

wait_out_time_wait 8888
wait_out_time_wait 8889

# --- the original server.py spinning after a half-close, seen with strace ------------------
if have python3 original-spin.txt && have strace original-spin.txt && have nc original-spin.txt &&
  [ -f "$seed/server.py" ]; then
  # Unmodified: server.py binds 127.0.0.1:8888 itself.
  python3 -u "$seed/server.py" >"$tmp/py.out" 2>"$tmp/py.err" &
  py=$!
  background+=("$py")
  if wait_until listening_on 8888; then
    # "hi", then -N: shutdown(SHUT_WR) at the end of the input. nc keeps reading.
    printf 'hi' | nc -N 127.0.0.1 8888 >/dev/null &
    ncpid=$!
    background+=("$ncpid")
    sleep 0.3
    timeout 0.2 strace -p "$py" -e trace=recvfrom,sendto -o "$tmp/py.strace" 2>/dev/null
    kill "$ncpid" 2>/dev/null
    wait_until gone "$py"
    {
      show "python3 server.py &"
      show "printf 'hi' | nc -N 127.0.0.1 8888 > /dev/null &"
      show "sudo strace -p \$(pgrep -f server.py) -e trace=recvfrom,sendto"
      grep -E '^(recvfrom|sendto)' "$tmp/py.strace" | head -n 6
      echo "..."
      echo "# nc is stopped: its kernel answers the next send with RST"
      tail -n 1 "$tmp/py.err"
    } >"$out/original-spin.txt"
  fi
  kill "$py" 2>/dev/null
  wait "$py" 2>/dev/null
fi

# --- ss: the states of one connection, opened and closed by hand -----------------------------
start_server "$tmp/ss.log" --addr 127.0.0.1:8888
{
  show "ss -tln '( sport = :8888 )'"
  ss -tln '( sport = :8888 )'
  echo
  show "exec 3<>/dev/tcp/127.0.0.1/8888    # bash opens a connection on descriptor 3"
  exec 3<>/dev/tcp/127.0.0.1/8888
  show "read -r line <&3; echo \"\$line\""
  read -r line <&3
  echo "$line"
  port=$(my_port 3)
  show "ss -tan '( sport = :$port or dport = :$port )'"
  ss -tan "( sport = :$port or dport = :$port )"
  echo
  show "echo exit >&3; read -r line <&3; echo \"\$line\""
  echo exit >&3
  read -r line <&3
  echo "$line"
  # The server closes its side after bye: the next read is the end of the stream.
  read -r -t 2 line <&3
  sleep 0.2
  show "ss -tan '( sport = :$port or dport = :$port )'"
  ss -tan "( sport = :$port or dport = :$port )"
  echo
  show "exec 3<&-    # close our side"
  exec 3<&-
  sleep 0.2
  show "ss -tano '( sport = :$port or dport = :$port )'"
  ss -tano "( sport = :$port or dport = :$port )"
} >"$out/ss-states.txt"
stop_server

# --- a session: the server, two clients one after the other ---------------------------------
start_server "$tmp/session.log" --addr 127.0.0.1:8888
{
  show "printf 'hello\nworld\nexit\n' | $run_client"
  printf 'hello\nworld\nexit\n' | "$client"
  show "printf 'again\n' | $run_client"
  printf 'again\n' | "$client"
} >"$out/client-session.txt" 2>&1
wait_until grep -q 'after 1 message' "$tmp/session.log"
{
  show "$run_server"
  cat "$tmp/session.log"
} >"$out/server-session.txt"

# --- nc: half-close, bytes that are not UTF-8, a last line with no newline ---------------------
if have nc nc.txt; then
  lines_before=$(wc -l <"$tmp/session.log")
  {
    show "printf 'one\ntwo\n' | nc -N 127.0.0.1 8888"
    printf 'one\ntwo\n' | nc -N 127.0.0.1 8888
    show "printf 'caf\xc3\xa9\n\xff\xfe\nexit\n' | nc 127.0.0.1 8888"
    printf 'caf\xc3\xa9\n\xff\xfe\nexit\n' | nc 127.0.0.1 8888
    show "printf 'one\ntwo' | nc -N 127.0.0.1 8888"
    printf 'one\ntwo' | nc -N 127.0.0.1 8888
  } >"$out/nc.txt" 2>&1
  wait_until grep -q 'no newline' "$tmp/session.log"
  {
    echo "# what the server printed meanwhile (stdout and stderr)"
    tail -n +"$((lines_before + 1))" "$tmp/session.log"
  } >"$out/nc-server.txt"
fi
stop_server

# --- tcpdump: one whole conversation on the wire ------------------------------------------------
if have tcpdump tcpdump.txt; then
  start_server "$tmp/dump.log" --addr 127.0.0.1:8888
  tcpdump -i lo -n -U --immediate-mode -w "$tmp/capture.pcap" 'tcp port 8888' 2>"$tmp/tcpdump.err" &
  dump=$!
  background+=("$dump")
  if wait_until grep -q 'listening on' "$tmp/tcpdump.err"; then
    printf 'hello\nexit\n' | "$client" >"$tmp/dump-client.txt"
    sleep 0.5
    kill "$dump"
    wait "$dump" 2>/dev/null
    {
      show "sudo tcpdump -i lo -n -t 'tcp port 8888'"
      tcpdump -r "$tmp/capture.pcap" -n -t 2>/dev/null
    } >"$out/tcpdump.txt"
    {
      show "printf 'hello\nexit\n' | $run_client"
      cat "$tmp/dump-client.txt"
    } >"$out/tcpdump-client.txt"
  else
    note "tcpdump could not capture on lo; leaving tcpdump.txt as it was"
  fi
  stop_server
fi

# --- strace: the system calls of our server during one conversation ------------------------------
if have strace strace-server.txt; then
  start_server "$tmp/strace.log" --addr 127.0.0.1:8888
  strace -p "$server_pid" -e trace=accept4,recvfrom,sendto,shutdown,close -o "$tmp/server.strace" \
    2>"$tmp/strace.err" &
  tracer=$!
  background+=("$tracer")
  if wait_until grep -q 'attached' "$tmp/strace.err"; then
    printf 'hello\nexit\n' | "$client" >/dev/null
    wait_until grep -q 'said exit' "$tmp/strace.log"
    sleep 0.2
    kill "$tracer"
    wait "$tracer" 2>/dev/null
    {
      show "sudo strace -p \$(pgrep lesson-02) -e trace=accept4,recvfrom,sendto,shutdown,close"
      grep -v 'detached' "$tmp/server.strace" | head -n 12
    } >"$out/strace-server.txt"
  fi
  stop_server
fi

# --- the backlog: a second client waits until the first leaves --------------------------------
start_server "$tmp/backlog.log" --addr 127.0.0.1:8888
{
  echo "# client A connects and is greeted"
  show "exec 3<>/dev/tcp/127.0.0.1/8888; read -r line <&3; echo \"\$line\""
  exec 3<>/dev/tcp/127.0.0.1/8888
  read -r line <&3
  echo "$line"
  echo "# client B connects too: the connect succeeds at once"
  show "exec 4<>/dev/tcp/127.0.0.1/8888; read -r -t 1 line <&4 || echo '(nothing after 1 s)'"
  exec 4<>/dev/tcp/127.0.0.1/8888
  read -r -t 1 line <&4 || echo '(nothing after 1 s)'
  show "echo early >&4     # B's line waits in its socket's receive buffer"
  echo early >&4
  sleep 0.1
  show "ss -tln '( sport = :8888 )'"
  ss -tln '( sport = :8888 )'
  show "ss -tan exclude time-wait '( sport = :8888 or dport = :8888 )'"
  ss -tan exclude time-wait '( sport = :8888 or dport = :8888 )'
  echo "# A leaves"
  show "echo exit >&3; read -r line <&3; echo \"\$line\"; exec 3<&-"
  echo exit >&3
  read -r line <&3
  echo "$line"
  read -r -t 2 line <&3
  exec 3<&-
  echo "# now the server accepts B, which gets its greeting and the reply to its early line"
  show "read -r line <&4; echo \"\$line\"; read -r line <&4; echo \"\$line\""
  read -r -t 5 line <&4
  echo "$line"
  read -r -t 5 line <&4
  echo "$line"
  echo exit >&4
  read -r -t 2 line <&4
  read -r -t 2 line <&4
  exec 4<&-
} >"$out/backlog.txt"
stop_server

# --- restarting: with SO_REUSEADDR at once; without it, not while TIME_WAIT lasts ----------------
start_server "$tmp/restart.log" --addr 127.0.0.1:8888
printf 'exit\n' | "$client" >/dev/null
wait_until grep -q 'said exit' "$tmp/restart.log"
stop_server
{
  echo "# the server ran, a client said exit, the server was stopped"
  show "ss -tano state time-wait '( sport = :8888 )'"
  ss -tano state time-wait '( sport = :8888 )'
  show "$run_server"
  start_server "$tmp/restart2.log" --addr 127.0.0.1:8888
  cat "$tmp/restart2.log"
  stop_server
} >"$out/restart.txt"

{
  echo "# the same on port 8889, with SO_REUSEADDR turned off"
  show "$run_server -- --addr 127.0.0.1:8889 --no-reuseaddr"
  start_server "$tmp/noreuse.log" --addr 127.0.0.1:8889 --no-reuseaddr
  cat "$tmp/noreuse.log"
  printf 'exit\n' | "$client" --addr 127.0.0.1:8889 >/dev/null
  wait_until grep -q 'said exit' "$tmp/noreuse.log"
  stop_server
  echo "# a client said exit; the server was stopped, and started again:"
  show "$run_server -- --addr 127.0.0.1:8889 --no-reuseaddr"
  timeout 5 "$server" --addr 127.0.0.1:8889 --no-reuseaddr 2>&1
  echo "[exit status $?]"
  echo "# and even with SO_REUSEADDR on, as long as the old connection lasts:"
  show "$run_server -- --addr 127.0.0.1:8889"
  timeout 5 "$server" --addr 127.0.0.1:8889 2>&1
  echo "[exit status $?]"
} >"$out/no-reuseaddr.txt"

# --- the original's failures, as our tests observe them ------------------------------------------
if have python3 original-tests.txt; then
  cargo test -q -p lesson-02 --test original -- --nocapture --test-threads=1 \
    >"$tmp/original.txt" 2>&1
  if grep -q 'skipped' "$tmp/original.txt"; then
    note "the tests of server.py were skipped; leaving original-tests.txt as it was"
  else
    {
      show "cargo test -q -p lesson-02 --test original -- --nocapture --test-threads=1"
      grep -o 'observed: .*' "$tmp/original.txt"
    } >"$out/original-tests.txt"
  fi
fi

# Leave port 8888 as we found it: the next lesson's server may not set SO_REUSEADDR.
wait_out_time_wait 8888
# The exercise report on the unsolved stubs, as a learner first sees it.
bash book/scripts/exercise-report.bash lesson-02 "$out"
echo "lesson-02.sh: done"
