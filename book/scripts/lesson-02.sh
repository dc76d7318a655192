#!/usr/bin/env bash
# Makes the output chapter 2 shows, from real runs of lesson 02 on 127.0.0.1:8888.
#
#   book/scripts/regen-output.sh lesson-02
#
# regen-output.sh builds the binaries and passes the output directory
# (book/src/output/lesson-02) as $1. The commands written into the files are the ones a reader
# types (`cargo run -q ...`); the script runs the same binaries from target/debug. Each part
# runs in a network namespace of its own (common.sh; needs root), all at the same time, so each
# finds port 8888 free and no TIME_WAIT left by another.
#
# Tools: ss and nstat are needed. nc (OpenBSD netcat), tcpdump, strace and python3 (for the
# original programs in tests/originals/) are used when present; a step whose tool is missing
# says so and leaves its old file as it was.
set -uo pipefail
. "$(dirname "$0")/common.sh"
out=$(realpath "$1")
cd "$(dirname "$0")/../.."
server=target/debug/lesson-02
client=target/debug/lesson-02-client
originals=tests/originals
run_server='cargo run -q -p lesson-02'
run_client='cargo run -q -p lesson-02 --bin lesson-02-client'
tmp=$(mktemp -d)
background=()
cleanup() {
  stop_server KILL
  for pid in "${background[@]}"; do kill "$pid" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

gone() { ! kill -0 "$1" 2>/dev/null; }
listening_on() { [ -n "$(ss -tlnH "( sport = :$1 )")" ]; }

# The local port of this shell's connection on file descriptor FD to port 8888.
my_port() {
  ss -tanpH "( dport = :8888 )" | grep "pid=$$,fd=$1)" | awk '{print $4}' | sed 's/.*://'
}
# The lesson's client, for at most 15 s.
client() { bounded 15 "$client" "$@"; }

# --- the original server.py spinning after a half-close, seen with strace ------------------
part_spin() {
  have python3 original-spin.txt && have strace original-spin.txt && have nc original-spin.txt ||
    return 0
  # As it is: server.py binds 127.0.0.1:8888 itself.
  timeout -k 2 60 python3 -u "$originals/server.py" >"$tmp/py.out" 2>"$tmp/py.err" &
  local py=$!
  background+=("$py")
  wait_until listening_on 8888 || return 1
  # "hi", then -N: shutdown(SHUT_WR) at the end of the input. nc keeps reading.
  printf 'hi' | timeout -k 2 30 nc -N 127.0.0.1 8888 >/dev/null &
  local ncpid=$!
  background+=("$ncpid")
  sleep 0.3
  timeout 0.2 strace -p "$py" -e trace=recvfrom,sendto -o "$tmp/py.strace" 2>/dev/null
  kill "$ncpid" 2>/dev/null
  wait_until gone "$py"
  {
    show "python3 server.py & py=\$!     # \$!: the pid of the program just started"
    show "printf 'hi' | nc -N 127.0.0.1 8888 > /dev/null &"
    show "sudo strace -p \$py -e trace=recvfrom,sendto"
    grep -E '^(recvfrom|sendto)' "$tmp/py.strace" | head -n 6
    echo "..."
    echo "# nc is stopped: its kernel answers the next send with RST"
    tail -n 1 "$tmp/py.err"
  } >"$out/original-spin.txt"
}

# --- ss: the states of one connection, opened and closed by hand -----------------------------
part_states() {
  start_server "$tmp/ss.log" 120 "$server" --addr 127.0.0.1:8888
  {
    show "ss -tln '( sport = :8888 )'"
    ss -tln '( sport = :8888 )'
    echo
    show "exec 3<>/dev/tcp/127.0.0.1/8888    # bash opens a connection on descriptor 3"
    exec 3<>/dev/tcp/127.0.0.1/8888
    show "read -r line <&3; echo \"\$line\""
    read -r -t 5 line <&3
    echo "$line"
    port=$(my_port 3)
    show "ss -tan '( sport = :$port or dport = :$port )'"
    ss -tan "( sport = :$port or dport = :$port )"
    echo
    show "echo exit >&3"
    echo exit >&3
    # The server answers bye and shuts down its side: its FIN arrives; we have read nothing yet.
    wait_for "$tmp/ss.log" 'said exit'
    sleep 0.2
    show "ss -tan '( sport = :$port or dport = :$port )'"
    ss -tan "( sport = :$port or dport = :$port )"
    echo
    show "read -r line <&3; echo \"\$line\"; read -r line <&3 || echo '(end of stream)'"
    read -r -t 5 line <&3
    echo "$line"
    read -r -t 5 line <&3 || echo '(end of stream)'
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
}

# --- a session: the server, two clients one after the other; then nc --------------------------
part_session() {
  start_server "$tmp/session.log" 120 "$server" --addr 127.0.0.1:8888
  {
    show "printf 'hello\nworld\nexit\n' | $run_client"
    printf 'hello\nworld\nexit\n' | client
    show "printf 'again\n' | $run_client"
    printf 'again\n' | client
  } >"$out/client-session.txt" 2>&1
  wait_for "$tmp/session.log" 'after 1 message'
  {
    show "$run_server"
    cat "$tmp/session.log"
  } >"$out/server-session.txt"

  # nc: half-close, bytes that are not UTF-8, a last line with no newline.
  if have nc nc.txt; then
    local lines_before
    lines_before=$(wc -l <"$tmp/session.log")
    {
      show "printf 'one\ntwo\n' | nc -N 127.0.0.1 8888"
      printf 'one\ntwo\n' | bounded 15 nc -N 127.0.0.1 8888
      show "printf 'caf\xc3\xa9\n\xff\xfe\nexit\n' | nc 127.0.0.1 8888"
      printf 'caf\xc3\xa9\n\xff\xfe\nexit\n' | bounded 15 nc 127.0.0.1 8888
      show "printf 'one\ntwo' | nc -N 127.0.0.1 8888"
      printf 'one\ntwo' | bounded 15 nc -N 127.0.0.1 8888
    } >"$out/nc.txt" 2>&1
    wait_for "$tmp/session.log" 'no newline'
    {
      echo "# what the server printed meanwhile (stdout and stderr)"
      tail -n +"$((lines_before + 1))" "$tmp/session.log"
    } >"$out/nc-server.txt"
  fi
  stop_server
}

# --- tcpdump: one whole conversation on the wire ------------------------------------------------
part_tcpdump() {
  have tcpdump tcpdump.txt || return 0
  start_server "$tmp/dump.log" 120 "$server" --addr 127.0.0.1:8888
  timeout -k 2 30 tcpdump -i lo -n -U --immediate-mode -w "$tmp/capture.pcap" 'tcp port 8888' \
    2>"$tmp/tcpdump.err" &
  local dump=$!
  background+=("$dump")
  wait_for "$tmp/tcpdump.err" 'listening on' || return 1
  printf 'hello\nexit\n' | client >"$tmp/dump-client.txt"
  sleep 0.5
  kill "$dump"
  wait "$dump" 2>/dev/null
  {
    show "sudo tcpdump -i lo -n -t 'tcp port 8888'"
    bounded 10 tcpdump -r "$tmp/capture.pcap" -n -t 2>/dev/null
  } >"$out/tcpdump.txt"
  {
    show "printf 'hello\nexit\n' | $run_client"
    cat "$tmp/dump-client.txt"
  } >"$out/tcpdump-client.txt"
  stop_server
}

# --- strace: the system calls of our server during one conversation ------------------------------
part_strace() {
  have strace strace-server.txt || return 0
  start_server "$tmp/strace.log" 60 \
    strace -o "$tmp/server.strace" -e trace=accept4,recvfrom,sendto,shutdown,close \
    "$server" --addr 127.0.0.1:8888 || return 1
  printf 'hello\nexit\n' | client >/dev/null
  wait_for "$tmp/strace.log" 'said exit'
  stop_server
  {
    show "cargo build -q -p lesson-02"
    show "strace -e trace=accept4,recvfrom,sendto,shutdown,close target/debug/lesson-02"
    # From the first accept4 on; before it the loader and the runtime close files of their own.
    sed -n '/^accept4/,$p' "$tmp/server.strace" | grep -v -e 'SIGTERM' -e '+++' | head -n 12
  } >"$out/strace-server.txt"
}

# Client A, bash on descriptor 3: connects and reads its greeting; says exit, reads bye and
# the end of the stream, and closes. Each shows the commands as the reader types them.
a_arrives() {
  show "exec 3<>/dev/tcp/127.0.0.1/8888; read -r line <&3; echo \"\$line\""
  exec 3<>/dev/tcp/127.0.0.1/8888
  read -r -t 5 line <&3
  echo "$line"
}
a_leaves() {
  echo "# A leaves"
  show "echo exit >&3; read -r line <&3; echo \"\$line\"; exec 3<&-"
  echo exit >&3
  read -r -t 5 line <&3
  echo "$line"
  read -r -t 2 line <&3
  exec 3<&-
}

# --- the backlog: a second client waits until the first leaves --------------------------------
part_backlog() {
  start_server "$tmp/backlog.log" 120 "$server" --addr 127.0.0.1:8888
  {
    echo "# client A connects and is greeted"
    a_arrives
    echo "# client B connects too: the connect succeeds at once"
    show "exec 4<>/dev/tcp/127.0.0.1/8888; read -r -t 1 line <&4 || echo '(nothing after 1 s)'"
    exec 4<>/dev/tcp/127.0.0.1/8888
    read -r -t 1 line <&4 || echo '(nothing after 1 s)'
    show "echo early >&4     # B's line waits in its socket's receive buffer"
    echo early >&4
    sleep 0.1
    show "ss -tln '( sport = :8888 )'"
    ss -tln '( sport = :8888 )'
    show "ss -tan '( sport = :8888 or dport = :8888 )'"
    ss -tan '( sport = :8888 or dport = :8888 )'
    a_leaves
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
}

# --- a full accept queue: the SYN retries, and the kernel's counters ----------------------------
# part_syn FILE LINEAR: lesson 02 busy with client A; 129 more connections fill its accept queue
# (backlog 128, plus one); the next connect's SYNs are dropped and retried. The namespace's
# tcp_syn_linear_timeouts is set to LINEAR (4 is the default since Linux 6.5; 0 is the older
# behaviour), and tcp_syn_retries to 4 instead of 6, so that connect gives up after about half a
# minute instead of two.
part_syn() {
  local file=$1 linear=$2
  have tcpdump "$file" || return 0
  sysctl -q -w net.ipv4.tcp_syn_linear_timeouts="$linear" net.ipv4.tcp_syn_retries=4
  start_server "$tmp/syn.log" 120 "$server" --addr 127.0.0.1:8888
  exec 3<>/dev/tcp/127.0.0.1/8888
  read -r -t 5 line <&3
  # nstat keeps its last reading in a history file: one of our own, so that the other parts'
  # readings do not mix with ours. From here on, nstat shows what changed.
  export NSTAT_HISTORY=$tmp/nstat.history
  nstat -n
  local i fds=()
  for i in $(seq 129); do
    exec {fd}<>/dev/tcp/127.0.0.1/8888
    fds+=("$fd")
  done
  timeout -k 2 60 tcpdump -i lo -nn -ttttt -l 'tcp[tcpflags] & tcp-syn != 0 and dst port 8888' \
    >"$tmp/syn.dump" 2>"$tmp/syn.err" &
  local dump=$!
  background+=("$dump")
  wait_for "$tmp/syn.err" 'listening on' || return 1
  local start end status
  start=$(date +%s.%N)
  bounded 60 bash -c 'exec 5<>/dev/tcp/127.0.0.1/8888' 2>"$tmp/connect.err"
  status=$?
  end=$(date +%s.%N)
  sleep 0.2
  kill "$dump"
  wait "$dump" 2>/dev/null
  {
    show "sysctl net.ipv4.tcp_syn_linear_timeouts net.ipv4.tcp_syn_retries"
    sysctl net.ipv4.tcp_syn_linear_timeouts net.ipv4.tcp_syn_retries
    echo "# client A is served; 129 more clients connected and wait in the accept queue"
    show "ss -tln '( sport = :8888 )'"
    ss -tln '( sport = :8888 )'
    echo "# one more client: its SYNs, as tcpdump sees them (time since the first)"
    show "sudo tcpdump -i lo -nn -ttttt 'tcp[tcpflags] & tcp-syn != 0 and dst port 8888'"
    sed -E 's/(Flags \[S\]).*/\1/' "$tmp/syn.dump"
    printf '# connect() gave up after %.1f s (exit status %s): %s\n' \
      "$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')" "$status" "$(sed 's/.*: //' "$tmp/connect.err" | tail -n 1)"
    show "nstat TcpExtListenOverflows TcpExtListenDrops TcpExtSyncookiesSent"
    nstat -z TcpExtListenOverflows TcpExtListenDrops TcpExtSyncookiesSent | grep -v '^#'
  } >"$out/$file"
  for fd in "${fds[@]}"; do exec {fd}<&-; done
  exec 3<&-
  stop_server
}
part_syn_linear() { part_syn syn-linear.txt 4; }
part_syn_exponential() { part_syn syn-exponential.txt 0; }

# --- a client that resets while it waits in the accept queue ------------------------------------
part_reset() {
  have python3 reset-in-queue.txt && have strace reset-in-queue.txt || return 0
  start_server "$tmp/reset.log" 60 \
    strace -o "$tmp/reset.strace" -e trace=accept4,recvfrom,sendto \
    "$server" --addr 127.0.0.1:8888 || return 1
  {
    echo "# client A connects and is served"
    a_arrives
    echo "# client B connects, waits in the accept queue, and resets (SO_LINGER 0, then close)"
    show "python3 -c 'import socket, struct; b = socket.create_connection((\"127.0.0.1\", 8888)); b.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack(\"ii\", 1, 0)); b.close()'"
    bounded 10 python3 -c 'import socket, struct; b = socket.create_connection(("127.0.0.1", 8888)); b.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); b.close()'
    show "ss -tan '( sport = :8888 )'"
    ss -tan '( sport = :8888 )'
    a_leaves
    wait_for "$tmp/reset.log" 'reset'
    stop_server
    echo "# the server's system calls (it ran under strace -e trace=accept4,recvfrom,sendto)"
    # Only the calls that returned: the server was stopped in its last accept4.
    grep -E '^(accept4|recvfrom|sendto)' "$tmp/reset.strace" | grep -v -e 'ERESTART' -e 'unfinished'
    echo "# and its log"
    cat "$tmp/reset.log"
  } >"$out/reset-in-queue.txt"
}

# --- restarting: with SO_REUSEADDR at once; without it, not while TIME_WAIT lasts ----------------
part_restart() {
  start_server "$tmp/restart.log" 120 "$server" --addr 127.0.0.1:8888
  printf 'exit\n' | client >/dev/null
  wait_for "$tmp/restart.log" 'said exit'
  stop_server
  {
    echo "# the server ran, a client said exit, the server was stopped"
    show "ss -tano state time-wait '( sport = :8888 )'"
    ss -tano state time-wait '( sport = :8888 )'
    show "$run_server"
    start_server "$tmp/restart2.log" 120 "$server" --addr 127.0.0.1:8888
    cat "$tmp/restart2.log"
    stop_server
  } >"$out/restart.txt"

  {
    echo "# the same on port 8889, with SO_REUSEADDR turned off"
    show "$run_server -- --addr 127.0.0.1:8889 --no-reuseaddr"
    start_server "$tmp/noreuse.log" 120 "$server" --addr 127.0.0.1:8889 --no-reuseaddr
    cat "$tmp/noreuse.log"
    printf 'exit\n' | client --addr 127.0.0.1:8889 >/dev/null
    wait_for "$tmp/noreuse.log" 'said exit'
    stop_server
    echo "# a client said exit; the server was stopped, and started again:"
    show "$run_server -- --addr 127.0.0.1:8889 --no-reuseaddr"
    bounded 5 "$server" --addr 127.0.0.1:8889 --no-reuseaddr 2>&1
    echo "[exit status $?]"
    echo "# and even with SO_REUSEADDR on, as long as the old connection lasts:"
    show "$run_server -- --addr 127.0.0.1:8889"
    bounded 5 "$server" --addr 127.0.0.1:8889 2>&1
    echo "[exit status $?]"
  } >"$out/no-reuseaddr.txt"
}

# --- the original's failures, as our tests observe them ------------------------------------------
part_original() {
  have python3 original-tests.txt || return 0
  if ! bounded 300 cargo test -q -p lesson-02 --test original -- --ignored --nocapture \
    --test-threads=1 >"$tmp/original.txt" 2>&1; then
    note "the tests of server.py failed; leaving original-tests.txt as it was"
    cat "$tmp/original.txt" >&2
  else
    {
      show "cargo test -q -p lesson-02 --test original -- --ignored --nocapture --test-threads=1"
      grep -o 'observed: .*' "$tmp/original.txt"
    } >"$out/original-tests.txt"
  fi
}

# The exercise report on the unsolved stubs, as a learner first sees it (outside the namespaces).
if [ -z "${BOOK_PART:-}" ]; then
  bounded 900 bash book/scripts/exercise-report.bash lesson-02 "$out"
fi
run_parts "$out" spin states session tcpdump strace backlog syn_linear syn_exponential reset \
  restart original || exit 1
[ -n "${BOOK_PART:-}" ] || exit 0
"part_$BOOK_PART"
