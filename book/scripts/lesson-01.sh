#!/usr/bin/env bash
# Real runs of lesson 01 for chapter 1. Called by regen-output.sh with the output folder as $1.
set -euo pipefail
out=$1
server=target/debug/lesson-01
client=target/debug/lesson-01-client
addr=127.0.0.1:8888
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

have() {
  command -v "$1" >/dev/null 2>&1 || { echo "  $1 is not installed: keeping the old $2" >&2; return 1; }
}

# Waits (at most 10 s) until file $1 contains text $2.
wait_for() {
  for _ in $(seq 1 200); do
    grep -q -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "timed out waiting for '$2' in $1" >&2
  return 1
}

# Starts the server in the background, its stdout and stderr in $work/server.out.
start_server() {
  "$server" --addr "$addr" "$@" >"$work/server.out" 2>&1 &
  wait_for "$work/server.out" "listening on"
}

# A run less than a minute ago leaves 127.0.0.1:8888 in TIME_WAIT (section 2 shows why):
# wait until it is gone, at most 70 s, so the first run starts as a learner's would.
for _ in $(seq 1 140); do
  ss -tan state time-wait '( sport = :8888 )' 2>/dev/null | grep -q ':8888' || break
  sleep 0.5
done

# 1. Two terminals: the server and the client.
start_server
"$client" --addr "$addr" hello >"$work/client.out" 2>&1
wait
{
  echo "\$ cargo run -p lesson-01"
  cat "$work/server.out"
} >"$out/server-run.txt"
{
  echo "\$ cargo run -p lesson-01 --bin lesson-01-client -- hello"
  cat "$work/client.out"
} >"$out/client-run.txt"

# 2. Run it again at once: the port is still taken, by the connection in TIME_WAIT.
{
  echo "\$ cargo run -p lesson-01        # again, right away"
  "$server" --addr "$addr" 2>&1 || echo "(exit status $?)"
} >"$out/error-time-wait.txt"
if have ss ss-time-wait.txt; then
  {
    echo "\$ ss -tan state time-wait '( sport = :8888 or dport = :8888 )'"
    ss -tan state time-wait '( sport = :8888 or dport = :8888 )' | sed -E 's/:5[0-9]{4}\b/:51234/'
  } >"$out/ss-time-wait.txt"
fi

# From here on each run gets its own port, so TIME_WAIT from the run before cannot stop it.
# 3. nc as the client.
if have nc nc-run.txt; then
  addr=127.0.0.1:8881
  start_server
  printf 'hello from nc\n' | nc 127.0.0.1 8881 >"$work/nc.out" 2>&1
  wait
  {
    echo "\$ cargo run -p lesson-01 -- --addr 127.0.0.1:8881     # first terminal"
    cat "$work/server.out"
    echo
    echo "\$ printf 'hello from nc\\n' | nc 127.0.0.1 8881          # second terminal"
    cat "$work/nc.out"
  } >"$out/nc-run.txt"
fi

# 4. The listening socket, seen with ss while the server waits in accept().
if have ss ss-listen.txt; then
  addr=127.0.0.1:8882
  start_server
  {
    echo "\$ ss -tlnp 'sport = :8882'"
    ss -tlnp 'sport = :8882' | sed -E 's/pid=[0-9]+/pid=PID/'
  } >"$out/ss-listen.txt"
  "$client" --addr "$addr" bye >/dev/null
  wait
fi

# 5. The system calls, seen with strace.
if have strace strace-server.txt; then
  addr=127.0.0.1:8883
  strace -f -e trace=%network,read,write,close -o "$work/strace.raw" \
    "$server" --addr "$addr" >"$work/server.out" 2>&1 &
  wait_for "$work/server.out" "listening on"
  "$client" --addr "$addr" hello >/dev/null
  wait
  {
    echo "\$ strace -e trace=%network,read,write,close target/debug/lesson-01 --addr $addr"
    # From the socket() call on; before it the loader opens libraries, which is not our story.
    sed -n '/socket(AF_INET/,$p' "$work/strace.raw" | sed -E 's/^[0-9]+ +//'
  } >"$out/strace-server.txt"

  strace -e trace=%network -o "$work/strace-std.raw" target/debug/examples/std_listener >/dev/null
  {
    echo "\$ strace -e trace=%network target/debug/examples/std_listener"
    cat "$work/strace-std.raw"
  } >"$out/strace-std.txt"
fi

# 6. The message "hello" on the wire, captured on the loopback interface.
if have tcpdump capture-hello.txt; then
  addr=127.0.0.1:8884
  tcpdump -i lo -nn -l -XX -c 1 "dst port 8884 and tcp[tcpflags] & tcp-push != 0" \
    >"$work/tcpdump.out" 2>"$work/tcpdump.err" &
  dump=$!
  wait_for "$work/tcpdump.err" "listening on"
  start_server
  "$client" --addr "$addr" hello >/dev/null
  wait "$dump"
  wait
  {
    echo "\$ sudo tcpdump -i lo -nn -XX -c 1 'dst port 8884 and tcp[tcpflags] & tcp-push != 0'"
    cat "$work/tcpdump.out"
  } >"$out/capture-hello.txt"
fi

# 7. What goes wrong: another server has the address; nobody is listening.
addr=127.0.0.1:8885
start_server
{
  echo "\$ cargo run -p lesson-01 -- --addr $addr     # while another copy listens there"
  "$server" --addr "$addr" 2>&1 || echo "(exit status $?)"
} >"$out/error-in-use.txt"
"$client" --addr "$addr" bye >/dev/null
wait
{
  echo "\$ cargo run -p lesson-01 --bin lesson-01-client -- --addr 127.0.0.1:8886 hello    # no server there"
  "$client" --addr 127.0.0.1:8886 hello 2>&1 || echo "(exit status $?)"
} >"$out/error-refused.txt"

# 8. One read is not one message: a message written in two parts, a second apart.
if have nc split-read.txt; then
  addr=127.0.0.1:8887
  start_server
  (printf 'hel'; sleep 1; printf 'lo\n') | nc 127.0.0.1 8887 >"$work/nc.out" 2>&1 || true
  wait
  {
    echo "\$ (printf 'hel'; sleep 1; printf 'lo\\n') | nc 127.0.0.1 8887"
    cat "$work/nc.out"
    echo
    echo "# meanwhile, in the server's terminal:"
    cat "$work/server.out"
  } >"$out/split-read.txt"
fi

# 9. The exercise report on the unsolved stubs, as a learner first sees it.
bash book/scripts/exercise-report.bash lesson-01 "$out"
echo "  wrote $(ls "$out" | wc -l) files to $out"
