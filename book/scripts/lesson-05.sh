#!/usr/bin/env bash
# Output for the chapter "One thread, ten thousand connections" (lesson 05), from real runs on
# this machine.
#
#   book/scripts/regen-output.sh lesson-05      (writes book/src/output/lesson-05/)
#
# Runs the release build of lesson 05 on 127.0.0.1:8888 and writes:
#
#   session.txt    a conversation with nc, then SIGTERM, and the server's output
#   strace.txt     the same conversation under strace: epoll_create1, epoll_ctl, epoll_wait,
#                  accept4, recvfrom, sendto, and the waker (needs strace)
#   crowd.txt      9,999 idle connections (fewer if the hard descriptor limit is lower):
#                  the server's threads and memory meanwhile, and a client served among them
#   checker.txt    the conformance checker, --lesson 05, against the server
#   perf.txt       lesson 05 against lesson 03 (64 workers) and the tokio reference, at 64 and
#                  256 clients, three rounds (cargo run --release -p perf)
#   idle.txt       256 active clients beside idle ones, 1,000 and 10,000 connections in all:
#                  lesson 05, the tokio reference, lesson 03 at 1,000 (loadgen --idle), with the
#                  server's threads and memory while the crowd is held; one run each
#   exercises.txt, exercises-hint.txt
#                  the exercise report on the shipped stubs, and with the first hint
#
# A step whose tool is missing says so and leaves its file as it was. Every step is bounded by
# `timeout`; every server started is stopped.
set -euo pipefail
trap 'echo "lesson-05.sh: failed at line $LINENO" >&2' ERR
trap '' PIPE
out=${1:?usage: lesson-05.sh OUTPUT_DIR}
. "$(dirname "$0")/common.sh"
cd "$(dirname "$0")/../.."
mkdir -p "$out"
if [ -z "${BOOK_PART:-}" ]; then
  bounded 600 cargo build --release --quiet -p lesson-05 --bins --examples
  bounded 600 cargo build --quiet -p checker
  # The exercise report on the unsolved stubs, as a learner first sees it (outside the namespace).
  bounded 900 bash book/scripts/exercise-report.bash lesson-05 "$out"
fi
# The rest runs in a network namespace of its own, where port 8888 is always free.
part_limit=900 run_parts "$out" all || exit 1
[ -n "${BOOK_PART:-}" ] || exit 0
tmp=$(mktemp -d)
crowd_pid=""
cleanup() {
  if [ -n "$crowd_pid" ]; then kill "$crowd_pid" 2>/dev/null || true; fi
  stop_server KILL
  rm -rf "$tmp"
}
trap cleanup EXIT

bin=target/release
addr=127.0.0.1:8888

# 1. A conversation with nc, and the server's output.
start_server "$tmp/server.out" 60 "$bin/lesson-05" --addr "$addr"
{
  echo '$ cargo run --release -p lesson-05            # terminal 1'
  echo "\$ printf 'hello\\nexit\\n' | nc $(echo $addr | tr : ' ')          # terminal 2"
  printf 'hello\nexit\n' | timeout 10 nc -q 2 127.0.0.1 8888
  stop_server
  echo '--- terminal 1, after Ctrl-C:'
  cat "$tmp/server.out"
} >"$tmp/session.txt"
mv "$tmp/session.txt" "$out/session.txt"
echo "wrote $out/session.txt"

# 2. The same under strace. The soft descriptor limit is lowered to 1024 first (the common
# default), so the server's raising it shows.
if have strace strace.txt && have nc strace.txt; then
  start_server "$tmp/server.out" 30 prlimit --nofile=1024: strace -f -qq -o "$tmp/strace.raw" \
    -e trace=prlimit64,setrlimit,socket,bind,listen,epoll_create1,epoll_ctl,epoll_wait,epoll_pwait,eventfd2,accept4,recvfrom,sendto,shutdown,close,read,write \
    "$bin/lesson-05" --addr "$addr"
  # The lines come a moment after the greeting, as when typed: the trace then shows the loop
  # waiting for them. Both in one write, so in one segment: bash's own printf writes its
  # output a line at a time, coreutils' (`env printf`) at once.
  (sleep 0.5; env printf 'hello\nexit\n'; sleep 1) | timeout 10 nc -q 2 127.0.0.1 8888 >/dev/null
  # $server_pid is strace (prlimit became strace): signal the server, strace's child, alone,
  # and let strace record its exit.
  kill -TERM "$(pgrep -P "$server_pid")"
  wait_server
  {
    echo "\$ strace -f -e trace=epoll_create1,epoll_ctl,epoll_wait,accept4,recvfrom,sendto,... \\"
    echo "      target/release/lesson-05      # then: (sleep 0.5; printf 'hello\\nexit\\n') | nc 127.0.0.1 8888; then: kill <pid>"
    # From the descriptor limit on: what came before is the program loading its libraries.
    # Thread ids become names: the loop (the process's own id), the thread that writes the
    # log (it writes to descriptors 1 and 2), and ctrlc's signal thread (the others).
    loop_tid=$(awk 'NR==1 {print $1}' "$tmp/strace.raw")
    log_tid=$(awk '$2 ~ /^write\((1|2),/ && $1 != "'"$loop_tid"'" {print $1; exit}' "$tmp/strace.raw")
    awk '/RLIMIT_NOFILE/ {on=1} on' "$tmp/strace.raw" |
      awk -v loop="$loop_tid" -v lg="$log_tid" '{
             $1 = ($1 == loop ? "[loop]  " : $1 == lg ? "[log]   " : "[signal]"); print }'
  } >"$tmp/strace.txt"
  mv "$tmp/strace.txt" "$out/strace.txt"
  echo "wrote $out/strace.txt"
fi

# 3. Ten thousand connections: 9,999 idle ones, and one active client among them.
hard=$(ulimit -Hn)
count=9999
if [ "$hard" != unlimited ] && [ "$hard" -lt $((count + 100)) ]; then count=$((hard - 100)); fi
start_server "$tmp/server.out" 300 "$bin/lesson-05" --addr "$addr"
rss_before=$(awk '/VmRSS/ {print $2}' "/proc/$server_pid/status")
# The crowd holds its connections until its standard input closes: a FIFO held open by us.
mkfifo "$tmp/hold"
timeout 120 "$bin/examples/crowd" --addr "$addr" --count "$count" --hold 100 <"$tmp/hold" >"$tmp/crowd.out" 2>&1 &
crowd_pid=$!
exec 8>"$tmp/hold"
wait_for "$tmp/crowd.out" 'greeted' 60
{
  echo "\$ cargo run --release -p lesson-05                                          # terminal 1"
  echo "\$ cargo run --release -p lesson-05 --example crowd -- --count $count --hold 100   # terminal 2"
  cat "$tmp/crowd.out"
  echo "\$ ps -o pid,nlwp,rss,cmd -p \$(pgrep -x lesson-05)      # nlwp: threads; rss: KiB resident"
  ps -o pid,nlwp,rss,cmd -p "$server_pid" | sed "s/^ *$server_pid/  PID/"
  echo "(resident memory with no connection: $rss_before KiB)"
  echo "\$ grep TCP: /proc/net/sockstat      # the whole machine: sockets in use; mem: pages of socket buffers"
  grep TCP: /proc/net/sockstat
  echo "\$ ss -H -tn state established '( sport = :8888 )' | wc -l      # -H: no header line"
  ss -H -tn state established '( sport = :8888 )' | wc -l
  echo "\$ printf 'hello\\nexit\\n' | nc 127.0.0.1 8888                                # terminal 3"
  printf 'hello\nexit\n' | timeout 10 nc -q 2 127.0.0.1 8888
} >"$tmp/crowd.txt"
exec 8>&-
timeout 20 tail --pid="$crowd_pid" -f /dev/null || true
crowd_pid=""
stop_server
mv "$tmp/crowd.txt" "$out/crowd.txt"
echo "wrote $out/crowd.txt"

# 4. The checker, --lesson 05.
start_server "$tmp/server.out" 300 "$bin/lesson-05" --addr "$addr" --idle-timeout 2
{
  echo '$ cargo run -p lesson-05 -- --idle-timeout 2                     # terminal 1'
  echo '$ cargo run -p checker -- --lesson 05 --idle-timeout 2 --pid $(pgrep -x lesson-05)   # terminal 2'
  timeout 300 target/debug/checker --lesson 05 --idle-timeout 2 --pid "$server_pid" || true
} >"$tmp/checker.txt"
stop_server
mv "$tmp/checker.txt" "$out/checker.txt"
echo "wrote $out/checker.txt"

# 5. Measured: lesson 05 beside lesson 03 and the tokio reference, in one run.
timeout 600 cargo build --release --quiet -p perf -p lesson-03 -p tokio-reference
{
  echo '$ cargo run --release -p perf -- --series lesson-03-w64,lesson-05,tokio --clients 64,256'
  timeout 600 "$bin/perf" --bin-dir "$bin" --series lesson-03-w64,lesson-05,tokio \
    --clients 64,256 --rounds 3 --budget 300 --out "$tmp/perf" 2>/dev/null | grep -v '^written to'
} >"$tmp/perf.txt"
mv "$tmp/perf.txt" "$out/perf.txt"
echo "wrote $out/perf.txt"

# 6. Many connections, few active: 256 clients doing round trips beside idle ones.
timeout 600 cargo build --release --quiet -p loadgen
# crowd_point LABEL TOTAL PROGRAM ARGS...: one point, appended to $tmp/idle.txt.
crowd_point() {
  local label=$1 total=$2
  shift 2
  : >"$tmp/load.err"
  start_server "$tmp/server.out" 300 "$@" --addr "$addr"
  timeout 300 "$bin/loadgen" --addr "$addr" --clients 256 --messages 500 --timeout 30 \
    --idle $((total - 256)) >"$tmp/load.out" 2>"$tmp/load.err" &
  local load_pid=$!
  wait_for "$tmp/load.err" '^holding\|^error' 60
  local threads rss
  read -r threads rss < <(ps -o nlwp=,rss= -p "$server_pid")
  wait "$load_pid" || true
  {
    echo "== $label, $total connections: 256 active, $((total - 256)) idle"
    cat "$tmp/load.out" "$tmp/load.err" | grep -v '^holding'
    echo "server while the crowd was held: $threads threads, $((rss / 1024)) MiB resident"
    echo
  } >>"$tmp/idle.txt"
  stop_server
}
{
  echo "\$ cargo run --release -p loadgen -- --clients 256 --messages 500 --timeout 30 --idle N   # against each server"
  echo
} >"$tmp/idle.txt"
crowd_point "lesson-05" 1000 "$bin/lesson-05"
crowd_point "tokio-reference" 1000 "$bin/tokio-reference"
crowd_point "lesson-03 (16 workers, queue 64)" 1000 "$bin/lesson-03"
# Each process needs a descriptor per connection, loadgen its active clients too (and a margin).
if [ "$hard" = unlimited ] || [ "$hard" -ge 12100 ]; then
  crowd_point "lesson-05" 10000 "$bin/lesson-05"
  crowd_point "tokio-reference" 10000 "$bin/tokio-reference"
else
  echo "10,000 connections: not measured: the hard descriptor limit ($hard) is too low" >>"$tmp/idle.txt"
fi
mv "$tmp/idle.txt" "$out/idle.txt"
echo "wrote $out/idle.txt"
