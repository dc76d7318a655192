#!/usr/bin/env bash
# Output for the chapter "Many clients at once" (lesson 03), from real runs on this machine.
#
#   book/scripts/regen-output.sh lesson-03      (writes book/src/output/lesson-03/)
#
# Runs the release builds of lesson 03 (and of lesson 02, when the workspace has it) on
# 127.0.0.1:8888, talks to them with the lesson's client and with nc, and writes:
#
#   session.txt           two clients, the server's log, a reproducible --seed
#   threads.txt           the server's threads (ps -T)
#   busy.txt              a full pool and queue: the next client is told busy; ss -tan meanwhile
#   busy-ss.txt           ss -tan at that moment
#   busy-tcpdump.txt      the refused client's packets on lo (needs tcpdump and the right to capture)
#   shutdown.txt          SIGTERM while a client is connected
#   load-table.txt        loadgen: lesson 02 and lesson 03 at 1, 8 and 64 clients, each point
#                         run for at least a second, three times: median and min-max
#   pool-vs-original.txt  the benchmark against the original threaded_server.py (needs python3)
#   runaway-threads.txt   its first part: the original starting threads with no client
#
# Uses nc, ss, ps, tcpdump and python3 where present: a step whose tool is missing says so and leaves that
# file as it was. Every wait is bounded; every server started is stopped. Each part runs in a
# network namespace of its own (common.sh; needs root), so that each finds port 8888 free; the
# measurements run after the other parts, alone, so that nothing else competes for the CPUs.
set -euo pipefail
. "$(dirname "$0")/common.sh"
trap 'echo "lesson-03.sh: failed at line $LINENO" >&2' ERR
# A write to an nc that has already exited must fail, not kill this script.
trap '' PIPE
out=$(realpath "${1:?usage: lesson-03.sh OUTPUT_DIR}")
cd "$(dirname "$0")/../.."
mkdir -p "$out"
tmp=$(mktemp -d)
declare -a nc_pid
cleanup() {
  stop_server KILL
  for pid in "${nc_pid[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

lessons="lesson-03"
if [ -f lessons/lesson-02/Cargo.toml ]; then lessons="lesson-02 lesson-03"; fi

# The measurement against the original: `cargo bench` builds lesson 03 with its test-only
# feature, and the plain release build below replaces it again.
part_bench() {
  # Without python3 the benchmark cannot run the original (tests/originals/), and measures
  # lesson 03 alone, which is not what the chapter shows: keep the old file then.
  have python3 pool-vs-original.txt || return 0
  {
    echo '$ cargo bench -p lesson-03 --bench pool_vs_original'
    bounded 400 cargo bench --quiet -p lesson-03 --bench pool_vs_original 2>/dev/null
  } >"$tmp/bench.txt"
  mv "$tmp/bench.txt" "$out/pool-vs-original.txt"
  # Its first part, the original with no client, on its own for the chapter's first pages.
  awk '/^== /{exit} {print}' "$out/pool-vs-original.txt" >"$out/runaway-threads.txt"
}

build_args=()
for lesson in $lessons; do build_args+=(-p "$lesson"); done
if [ -z "${BOOK_PART:-}" ]; then
  bounded 600 cargo build --release --quiet "${build_args[@]}" -p loadgen
fi
bin=target/release
addr=127.0.0.1:8888

# reap PID: waits (at most 10 s) for PID to exit, kills it if it has not, and returns its status.
reap() {
  for _ in $(seq 200); do
    if ! kill -0 "$1" 2>/dev/null; then break; fi
    sleep 0.05
  done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null
}

client() { timeout 10 "$bin/lesson-03-client" --addr "$addr" "$@" 2>&1 || true; }

# ---------------------------------------------------------------------------------------------
# session.txt: two clients, one after the other, with a seed; the same seed gives the same ACKs.
part_session() {
  start_server "$tmp/server.out" 300 "$bin/lesson-03" --addr "$addr" --seed 7
  {
    echo '# terminal 2'
    echo "\$ printf 'hello\\nhow are you?\\nexit\\n' | cargo run -p lesson-03 --bin lesson-03-client"
    printf 'hello\nhow are you?\nexit\n' | client
    echo
    echo '# terminal 3'
    echo "\$ printf 'hello\\nhow are you?\\nexit\\n' | cargo run -p lesson-03 --bin lesson-03-client"
    printf 'hello\nhow are you?\nexit\n' | client
    stop_server INT
    echo
    echo '# terminal 1, the server, which terminal 2 and 3 talked to (Ctrl-C at the end)'
    echo '$ cargo run -p lesson-03 -- --seed 7'
    cat "$tmp/server.out"
  } >"$tmp/session.txt"
  mv "$tmp/session.txt" "$out/session.txt"
}

# threads.txt: the threads of a server with four workers.
part_threads() {
  if have ps threads.txt; then
    start_server "$tmp/server.out" 300 "$bin/lesson-03" --addr "$addr" --workers 4
    {
      echo '$ cargo run -p lesson-03 -- --workers 4        # in terminal 1'
      echo "\$ ps -T -o spid,comm -p \$(pgrep -x lesson-03)  # in terminal 2"
      ps -T -o spid,comm -p "$server_pid"
    } >"$tmp/threads.txt"
    stop_server
    mv "$tmp/threads.txt" "$out/threads.txt"
  fi
}

# nc_open N: starts `nc 127.0.0.1 8888` in the background, as a person would in another
# terminal. What it "types" goes through the FIFO on file descriptor 5+N; what it prints goes
# to $tmp/ncN.out.
nc_open() {
  mkfifo "$tmp/nc$1.in"
  timeout -k 2 60 nc 127.0.0.1 8888 <"$tmp/nc$1.in" >"$tmp/nc$1.out" 2>&1 &
  nc_pid[$1]=$!
  eval "exec $((5 + $1))>\"$tmp/nc$1.in\""
}
# nc_type N LINE: types LINE into nc N and shows it, as the terminal would.
nc_type() {
  echo "$2"
  echo "$2" >&$((5 + $1))
}
# nc_lines N COUNT: waits until nc N has printed COUNT lines, then shows the last one.
nc_lines() {
  for _ in $(seq 100); do
    if [ "$(wc -l <"$tmp/nc$1.out")" -ge "$2" ]; then break; fi
    sleep 0.05
  done
  sed -n "$2p" "$tmp/nc$1.out"
}
# nc_close N: ends nc N (as Ctrl-C would; SIGINT itself is ignored by background jobs).
nc_close() {
  eval "exec $((5 + $1))>&-"
  kill -TERM "${nc_pid[$1]}" 2>/dev/null || true
  reap "${nc_pid[$1]}" || true
}
# established COUNT: waits until COUNT client connections to 8888 are established (needs ss).
established() {
  for _ in $(seq 100); do
    if [ "$(ss -Htn state established '( dport = :8888 )' | wc -l)" -ge "$1" ]; then return 0; fi
    sleep 0.05
  done
}

# busy.txt: one worker, a queue of one. The first nc is served, the second waits in the
# queue, the client after them is refused.
part_busy() {
  if have nc busy.txt && have ss busy.txt; then
    start_server "$tmp/server.out" 300 "$bin/lesson-03" --addr "$addr" --workers 1 --queue 1
    {
      echo '$ cargo run -p lesson-03 -- --workers 1 --queue 1     # terminal 1'
      echo '$ nc 127.0.0.1 8888        # terminal 2: served; the only worker is busy with it'
      nc_open 1
      nc_lines 1 1
      echo '$ nc 127.0.0.1 8888        # terminal 3: accepted, waits in the queue: no greeting'
      nc_open 2
      established 2
      echo '$ echo hi | cargo run -p lesson-03 --bin lesson-03-client     # terminal 4'
      echo hi | client
    } >"$tmp/busy.txt"
    {
      echo '$ ss -tan state listening state established "( sport = :8888 or dport = :8888 )"'
      ss -tan state listening state established '( sport = :8888 or dport = :8888 )'
    } >"$tmp/ss.txt"
    if have tcpdump busy-tcpdump.txt; then
      timeout -k 2 30 tcpdump -i lo -nn -l -ttttt 'tcp port 8888' >"$tmp/tcpdump.raw" 2>"$tmp/tcpdump.err" &
      dump_pid=$!
      if timeout 5 bash -c "until grep -q 'listening on' '$tmp/tcpdump.err'; do sleep 0.05; done"; then
        {
          echo '$ echo hi | cargo run -p lesson-03 --bin lesson-03-client     # terminal 4 again, while tcpdump captures (below)'
          echo hi | client
        } >>"$tmp/busy.txt"
        sleep 0.5 # time for the last packets to be printed
        kill -INT "$dump_pid" 2>/dev/null || true
        reap "$dump_pid" || true
        {
          echo '$ sudo tcpdump -i lo -nn -ttttt "tcp port 8888"   # while one more client is refused'
          cat "$tmp/tcpdump.raw"
        } >"$out/busy-tcpdump.txt"
      else
        kill "$dump_pid" 2>/dev/null || true
        echo "lesson-03.sh: tcpdump cannot capture here; leaving the old busy-tcpdump.txt" >&2
      fi
    fi
    nc_close 1
    nc_close 2
    stop_server
    {
      cat "$tmp/busy.txt"
      echo
      echo '# terminal 1, the server'
      cat "$tmp/server.out"
    } >"$out/busy.txt"
    mv "$tmp/ss.txt" "$out/busy-ss.txt"
  fi
}

# shutdown.txt: SIGTERM while a client is in a conversation.
part_shutdown() {
  if have nc shutdown.txt; then
    start_server "$tmp/server.out" 300 "$bin/lesson-03" --addr "$addr"
    {
      echo '$ cargo run -p lesson-03      # terminal 1'
      echo '$ nc 127.0.0.1 8888           # terminal 2'
      nc_open 3
      nc_lines 3 1
      nc_type 3 hello
      nc_lines 3 2
      echo "\$ kill -TERM \$(pgrep -x lesson-03)   # terminal 3"
      kill -TERM "$server_pid"
      wait_for "$tmp/server.out" 'shutting down'
      echo '$ echo hi | cargo run -p lesson-03 --bin lesson-03-client   # terminal 3: too late'
      echo hi | client
      echo '# terminal 2 again: the conversation in progress goes on'
      nc_type 3 'still here'
      nc_lines 3 3
      nc_type 3 exit
      nc_lines 3 4
      nc_close 3
      wait_server
      echo
      echo "# terminal 1, the server (it exited with status $server_status)"
      cat "$tmp/server.out"
    } >"$tmp/shutdown.txt"
    mv "$tmp/shutdown.txt" "$out/shutdown.txt"
  fi
}

# load-table.txt: every lesson present, at 1, 8 and 64 clients, 2000 round trips each.
part_load() {  # Each point runs for at least a second: a first run with 2000 round trips per client says
  # how many make a second, and three runs of that many follow (the first is not counted).
  # The table shows the median of the three, and beside it the slowest and fastest.
  {
    echo "\$ cargo run --release -p loadgen -- --addr 127.0.0.1:8888 --clients N --messages M --csv"
    echo "# against each server in turn, N = 1, 8, 64; M chosen so that a run lasts at least 1 s;"
    echo "# three runs per point: the median, and [min-max]; $(nproc) CPUs; $(date -u +%Y-%m-%d)"
    echo
    printf '%-10s %7s %7s %24s %16s %16s %10s\n' server clients M 'round trips/s [min-max]' \
      'greeting median' 'greeting slowest' 'not served'
    for lesson in lesson-02 lesson-03; do
      if [[ " $lessons " != *" $lesson "* ]]; then
        printf '%-10s (not in this workspace yet)\n' "$lesson"
        continue
      fi
      start_server "$tmp/server.out" 300 "$bin/$lesson" --addr "$addr"
      for clients in 1 8 64; do
        local m elapsed runs
        m=2000
        elapsed=$(bounded 150 "$bin/loadgen" --addr "$addr" --clients "$clients" --messages "$m" \
          --timeout 120 --csv | cut -d, -f7)
        m=$(awk -v m="$m" -v e="$elapsed" 'BEGIN { n = (e < 1) ? int(m * 1.2 / (e > 0.01 ? e : 0.01)) + 1 : m; print (n > 1000000 ? 1000000 : n) }')
        runs=$(for _ in 1 2 3; do
          bounded 150 "$bin/loadgen" --addr "$addr" --clients "$clients" --messages "$m" \
            --timeout 120 --csv
        done)
        # columns: see `loadgen --csv-header`; sorted by round trips per second
        echo "$runs" | sort -t, -k8,8n | awk -F, -v server="$lesson" -v m="$m" '
          { rate[NR] = $8; greet[NR] = $12; if ($13 > slowest) slowest = $13; lost += $3 - $14 }
          END {
            printf "%-10s %7d %7d %8.0f [%6.0f-%6.0f] %13.2f ms %13.2f ms %6d of %d\n",
              server, $3, m, rate[2], rate[1], rate[3], greet[2] / 1000, slowest / 1000, lost, 3 * $3
          }'
      done
      stop_server
    done
  } >"$tmp/load-table.txt"
  mv "$tmp/load-table.txt" "$out/load-table.txt"
}

# The exercise report on the unsolved stubs, as a learner first sees it (outside the namespaces).
if [ -z "${BOOK_PART:-}" ]; then
  bounded 900 bash book/scripts/exercise-report.bash lesson-03 "$out"
fi
run_parts "$out" session threads busy shutdown || exit 1
# The measurements, alone.
run_parts "$out" load || exit 1
run_parts "$out" bench || exit 1
[ -n "${BOOK_PART:-}" ] || exit 0
"part_$BOOK_PART"
