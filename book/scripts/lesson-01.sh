#!/usr/bin/env bash
# Real runs of lesson 01 for chapter 1. Called by regen-output.sh with the output folder as $1.
#
# Each part below runs in a network namespace of its own (see common.sh; needs root), all at
# the same time, so every part finds 127.0.0.1:8888 free, as a learner's first run does.
set -euo pipefail
. "$(dirname "$0")/common.sh"
out=$(realpath "$1")
cd "$(dirname "$0")/../.."
server=target/debug/lesson-01
client=target/debug/lesson-01-client
addr=127.0.0.1:8888
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

# The client, for at most 15 s.
run_client() { bounded 15 "$client" "$@"; }

# 1. Two terminals: the server and the client. 2. Run it again at once: the port is still
# taken, by the server's end of the connection, in TIME_WAIT.
part_main() {
  start_server "$work/server.out" 30 "$server" --addr "$addr"
  run_client --addr "$addr" hello >"$work/client.out" 2>&1
  wait
  {
    echo "\$ cargo run -p lesson-01"
    cat "$work/server.out"
  } >"$out/server-run.txt"
  {
    echo "\$ cargo run -p lesson-01 --bin lesson-01-client -- hello"
    cat "$work/client.out"
  } >"$out/client-run.txt"
  {
    echo "\$ cargo run -p lesson-01        # again, right away"
    bounded 5 "$server" --addr "$addr" 2>&1 || echo "(exit status $?)"
  } >"$out/error-time-wait.txt"
  if have ss ss-time-wait.txt; then
    {
      echo "\$ ss -tan state time-wait '( sport = :8888 or dport = :8888 )'"
      ss -tan state time-wait '( sport = :8888 or dport = :8888 )'
    } >"$out/ss-time-wait.txt"
  fi
}

# 3. nc as the client.
part_nc() {
  have nc nc-run.txt || return 0
  start_server "$work/server.out" 30 "$server" --addr "$addr"
  printf 'hello from nc\n' | bounded 15 nc 127.0.0.1 8888 >"$work/nc.out" 2>&1
  wait
  {
    echo "\$ cargo run -p lesson-01                         # first terminal"
    cat "$work/server.out"
    echo
    echo "\$ printf 'hello from nc\\n' | nc 127.0.0.1 8888    # second terminal"
    cat "$work/nc.out"
  } >"$out/nc-run.txt"
}

# 4. The listening socket, seen with ss while the server waits in accept().
part_listen() {
  have ss ss-listen.txt || return 0
  start_server "$work/server.out" 30 "$server" --addr "$addr"
  {
    echo "\$ ss -tlnp 'sport = :8888'"
    ss -tlnp 'sport = :8888' | sed -E 's/pid=[0-9]+/pid=PID/'
  } >"$out/ss-listen.txt"
  run_client --addr "$addr" bye >/dev/null
  wait
}

# 5. The system calls, seen with strace.
part_strace() {
  have strace strace-server.txt || return 0
  timeout -k 2 30 strace -f -e trace=%network,read,write,close -o "$work/strace.raw" \
    "$server" --addr "$addr" >"$work/server.out" 2>&1 &
  wait_for "$work/server.out" "listening on"
  run_client --addr "$addr" hello >/dev/null
  wait
  {
    echo "\$ strace -e trace=%network,read,write,close target/debug/lesson-01"
    # From the socket() call on; before it the loader opens libraries, which is not our story.
    sed -n '/socket(AF_INET/,$p' "$work/strace.raw" | sed -E 's/^[0-9]+ +//'
  } >"$out/strace-server.txt"

  bounded 10 strace -e trace=%network -o "$work/strace-std.raw" \
    target/debug/examples/std_listener >/dev/null
  {
    echo "\$ strace -e trace=%network target/debug/examples/std_listener"
    cat "$work/strace-std.raw"
  } >"$out/strace-std.txt"
}

# 6. The message "hello" on the wire, captured on the loopback interface, link header included.
part_capture() {
  have tcpdump capture-hello.txt || return 0
  timeout -k 2 30 tcpdump -i lo -nn -l -XX -c 1 "dst port 8888 and tcp[tcpflags] & tcp-push != 0" \
    >"$work/tcpdump.out" 2>"$work/tcpdump.err" &
  local dump=$!
  wait_for "$work/tcpdump.err" "listening on"
  start_server "$work/server.out" 30 "$server" --addr "$addr"
  run_client --addr "$addr" hello >/dev/null
  wait "$dump"
  wait
  {
    echo "\$ sudo tcpdump -i lo -nn -XX -c 1 'dst port 8888 and tcp[tcpflags] & tcp-push != 0'"
    cat "$work/tcpdump.out"
  } >"$out/capture-hello.txt"
}

# 7. What goes wrong: another server has the address; nobody is listening.
part_errors() {
  start_server "$work/server.out" 30 "$server" --addr "$addr"
  {
    echo "\$ cargo run -p lesson-01     # while another copy listens on 127.0.0.1:8888"
    bounded 5 "$server" --addr "$addr" 2>&1 || echo "(exit status $?)"
  } >"$out/error-in-use.txt"
  run_client --addr "$addr" bye >/dev/null
  wait
  {
    echo "\$ cargo run -p lesson-01 --bin lesson-01-client -- hello    # no server running"
    run_client --addr "$addr" hello 2>&1 || echo "(exit status $?)"
  } >"$out/error-refused.txt"
}

# 8. One read is not one message: a message written in two parts, a second apart.
part_split() {
  have nc split-read.txt || return 0
  start_server "$work/server.out" 30 "$server" --addr "$addr"
  (printf 'hel'; sleep 1; printf 'lo\n') | bounded 15 nc 127.0.0.1 8888 >"$work/nc.out" 2>&1 || true
  wait
  {
    echo "\$ (printf 'hel'; sleep 1; printf 'lo\\n') | nc 127.0.0.1 8888"
    cat "$work/nc.out"
    echo
    echo "# meanwhile, in the server's terminal:"
    cat "$work/server.out"
  } >"$out/split-read.txt"
}

# 9. The exercise report on the unsolved stubs, as a learner first sees it.
# The exercise report on the unsolved stubs, as a learner first sees it (outside the namespaces).
if [ -z "${BOOK_PART:-}" ]; then
  bounded 900 bash book/scripts/exercise-report.bash lesson-01 "$out"
fi
run_parts "$out" main nc listen strace capture errors split || exit 1
[ -n "${BOOK_PART:-}" ] || exit 0
"part_$BOOK_PART"
