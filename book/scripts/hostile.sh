#!/usr/bin/env bash
# Output for chapters 2 and 3: lessons 02 and 03 facing a slow client and a shortage of file
# descriptors, from real runs on this machine.
#
#   book/scripts/regen-output.sh hostile      (writes book/src/output/hostile/)
#
# Runs the release builds of lessons 02 and 03 on 127.0.0.1, port 0 (a free port), and writes:
#
#   slowloris.txt    a client sending one byte every 300 ms, against --idle-timeout 2 (lesson 02)
#   nofile-64.txt    lesson 03 started under `prlimit --nofile=64:64`, then 200 connections
#   emfile.txt       lesson 03 whose limit is lowered while it runs, then raised again
#
# Needs python3 (the clients) and prlimit (util-linux): a step whose tool is missing says so and
# leaves that file as it was. Every wait is bounded; every server started is stopped.
set -euo pipefail
trap 'echo "hostile.sh: failed at line $LINENO" >&2' ERR
out=${1:?usage: hostile.sh OUTPUT_DIR}
. "$(dirname "$0")/common.sh"
cd "$(dirname "$0")/../.."
mkdir -p "$out"
tmp=$(mktemp -d)
cleanup() {
  stop_server KILL
  rm -rf "$tmp"
}
trap cleanup EXIT

bounded 600 cargo build --release --quiet -p lesson-02 -p lesson-03
bin=target/release

# --- slowloris against lesson 02 -----------------------------------------------------------------
if have python3 slowloris.txt; then
  start_server "$tmp/log" 120 "$bin/lesson-02" --addr 127.0.0.1:0 --idle-timeout 2
  port=${server_addr##*:}
  {
    echo '$ cargo run --release -p lesson-02 -- --idle-timeout 2'
    echo '# a client sends "x" every 300 ms and never a newline; seconds since it connected:'
    timeout 20 python3 - "$port" <<'EOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
start = time.monotonic()
s.settimeout(0.3)
sent, buf = 0, b""
while time.monotonic() - start < 12:
    try:
        data = s.recv(4096)
    except socket.timeout:
        data = None
    if data == b"":
        print(f"{time.monotonic() - start:5.1f}  end of stream, after {sent} bytes sent")
        break
    if data:
        buf += data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            print(f"{time.monotonic() - start:5.1f}  {line.decode()}")
    try:
        s.sendall(b"x")
        sent += 1
    except OSError as e:
        print(f"{time.monotonic() - start:5.1f}  send failed: {e}")
        break
EOF
    echo
    echo '# the server'
    stop_server
    cat "$tmp/log"
  } >"$tmp/slowloris.txt"
  mv "$tmp/slowloris.txt" "$out/slowloris.txt"
fi

# --- lesson 03 under a limit of 64 open files ------------------------------------------------------
if have python3 nofile-64.txt && have prlimit nofile-64.txt; then
  start_server "$tmp/log" 120 prlimit --nofile=64:64 "$bin/lesson-03" --addr 127.0.0.1:0 --workers 2 --queue 100
  port=${server_addr##*:}
  {
    echo '$ prlimit --nofile=64:64 cargo run --release -p lesson-03 -- --workers 2 --queue 100'
    echo '# 200 clients connect at once and keep their connections; what each one hears in 2 s:'
    timeout 30 python3 - "$port" <<'EOF'
import collections, socket, sys, time
clients = [socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5) for _ in range(200)]
heard = collections.Counter()
deadline = time.monotonic() + 2
for c in clients:
    c.settimeout(max(0.01, deadline - time.monotonic()))
    try:
        line = c.recv(100).decode().strip() or "(end of stream)"
    except socket.timeout:
        line = "(nothing yet: waiting in the queue)"
    heard[line] += 1
for line, count in sorted(heard.items()):
    print(f"{count:4}  {line}")
EOF
    echo
    echo '# the server: its first lines, and how many refusals it logged'
    stop_server
    grep -v 'busy: try again later' "$tmp/log" | grep -v '^worker '
    echo "$(grep -c 'busy: try again later' "$tmp/log") lines \"connection #N from ADDR: busy: try again later\""
  } >"$tmp/nofile-64.txt"
  mv "$tmp/nofile-64.txt" "$out/nofile-64.txt"
fi

# --- lesson 03 running out of descriptors while it runs -----------------------------------------
if have python3 emfile.txt && have prlimit emfile.txt; then
  start_server "$tmp/log" 120 "$bin/lesson-03" --addr 127.0.0.1:0 --workers 2 --queue 2
  port=${server_addr##*:}
  # The next free descriptor number: at that limit every new socket fails with EMFILE.
  free=0
  while [ -e "/proc/$server_pid/fd/$free" ]; do free=$((free + 1)); done
  {
    echo '$ cargo run --release -p lesson-03 -- --workers 2 --queue 2'
    echo "\$ prlimit --pid \$(pidof lesson-03) --nofile=$free:    # no descriptor left"
    bounded 10 prlimit --pid "$server_pid" --nofile="$free":
    echo '# five clients connect, one after another:'
    timeout 20 python3 - "$port" <<'EOF'
import socket, sys
for i in range(5):
    c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
    print(" ", c.recv(100).decode().strip())
    c.close()
EOF
    echo "\$ prlimit --pid \$(pidof lesson-03) --nofile=1024:    # descriptors again"
    bounded 10 prlimit --pid "$server_pid" --nofile=1024:
    timeout 20 python3 - "$port" <<'EOF'
import socket, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
print(" ", c.recv(100).decode().strip())
c.sendall(b"exit\n")
print(" ", c.recv(100).decode().strip())
EOF
    echo
    echo '# the server'
    stop_server
    cat "$tmp/log"
  } >"$tmp/emfile.txt"
  mv "$tmp/emfile.txt" "$out/emfile.txt"
fi
