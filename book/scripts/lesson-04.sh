#!/usr/bin/env bash
# Output for chapter 4 (Sending a picture), from real runs of lesson 04's programs.
# Run it through book/scripts/regen-output.sh lesson-04, which builds the binaries and passes
# the output folder (book/src/output/lesson-04) as $1.
#
# Tools: nc, xxd, ss, tcpdump (needs root or CAP_NET_RAW), sha256sum, cmp. A step whose tool is
# missing says so and leaves its old output file as it was.
#
# Runs in a network namespace of its own (common.sh; needs root), where port 8888 is free;
# every program runs under `timeout`.
set -euo pipefail
. "$(dirname "$0")/common.sh"
out=$(realpath "$1")
run_parts "$out" all || exit 1
[ -n "${BOOK_PART:-}" ] || exit 0
root=$(pwd)
bin="${CARGO_TARGET_DIR:-$root/target}/debug"
picture="$root/lessons/lesson-04/assets/postcard.png"

work=$(mktemp -d /tmp/lesson-04-book.XXXXXX)
capture_pid=""
cleanup() {
  [ -n "$capture_pid" ] && kill -INT "$capture_pid" 2>/dev/null || true
  stop_server KILL
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Prints "$ SHOWN" and then what the command printed (stdout and stderr), run in $work.
show_run() {
  local shown=$1
  shift
  echo "\$ $shown"
  (cd "$work" && timeout -k 2 120 "$@" 2>&1) || true
}

client="$bin/lesson-04-client"

echo "-- byte-stream.txt"
bounded 300 cargo run --quiet -p lesson-04 --example byte-stream >"$out/byte-stream.txt"

echo "-- walkthrough.txt, server.txt"
cp "$picture" "$work/postcard.png"
start_server "$work/server.log" 600 env -C "$work" "$bin/lesson-04" --dir received
{
  show_run "ls -l postcard.png" ls -l postcard.png
  show_run "sha256sum postcard.png" sha256sum postcard.png
  show_run "lesson-04-client send postcard.png" "$client" send postcard.png
  show_run "lesson-04-client list" "$client" list
  show_run "lesson-04-client get postcard.png --out copy.png" "$client" get postcard.png --out copy.png
  show_run "cmp postcard.png copy.png && echo identical" sh -c 'cmp postcard.png copy.png && echo identical'
  show_run "ls -A received" ls -A received
} >"$out/walkthrough.txt"
{
  show_run "lesson-04-client send postcard.png" "$client" send postcard.png
  show_run "lesson-04-client send postcard.png --as ../postcard.png" "$client" send postcard.png --as ../postcard.png
  show_run "lesson-04-client send postcard.png --as .postcard.png" "$client" send postcard.png --as .postcard.png
  show_run "lesson-04-client get ../../etc/passwd" "$client" get ../../etc/passwd
} >"$out/refusals.txt"

if have script "$out/progress.txt"; then
  # `script` runs the client on a pseudo-terminal, so it draws its progress bar; each \r
  # (redraw) becomes a new line here.
  head -c $((96 * 1024 * 1024)) /dev/zero >"$work/big.bin"
  (cd "$work" && timeout -k 2 120 script -qfec "$client send big.bin" /dev/null) >"$work/progress.raw" 2>&1 || true
  {
    echo "\$ lesson-04-client send big.bin      (a 96 MiB file, on a terminal)"
    # indicatif redraws with \r and clears with ESC [2K; drop the escape sequences.
    tr '\r' '\n' <"$work/progress.raw" | sed 's/\x1b\[[0-9;?]*[A-Za-z]//g; s/ *$//' | grep -v '^$'
  } >"$out/progress.txt"
  rm -f "$work/big.bin" "$work/received/big.bin"
fi

if have nc "$out/nc.txt" && have xxd "$out/nc.txt"; then
  {
    echo "\$ printf 'hello\\n' | nc -q 1 127.0.0.1 8888 | xxd"
    printf 'hello\n' | timeout -k 2 15 nc -q 1 127.0.0.1 8888 | xxd
  } >"$out/nc.txt"
fi

if have ss "$out/ss.txt"; then
  {
    echo "\$ ss -tln 'sport = :8888'"
    ss -tln 'sport = :8888'
  } >"$out/ss.txt"
fi

if have tcpdump "$out/tcpdump.txt"; then
  if tcpdump -D >/dev/null 2>&1; then
    # 128 bytes of each packet: the IP and TCP headers (52 bytes on lo) and the start of
    # the payload, which holds our frame headers.
    timeout -k 2 120 tcpdump -i lo -nn -s 128 --immediate-mode -U -w "$work/upload.pcap" 'tcp port 8888' 2>"$work/tcpdump.log" &
    capture_pid=$!
    for _ in $(seq 50); do
      grep -q 'listening on' "$work/tcpdump.log" 2>/dev/null && break
      sleep 0.1
    done
    (cd "$work" && timeout -k 2 60 "$client" send postcard.png --as captured.png >/dev/null 2>&1)
    sleep 0.5 # let the last packets reach the capture file
    kill -INT "$capture_pid"
    wait "$capture_pid" 2>/dev/null || true
    capture_pid=""
    {
      echo "\$ sudo tcpdump -i lo -nn -s 128 -w upload.pcap 'tcp port 8888'"
      echo "\$ lesson-04-client send postcard.png --as captured.png"
      echo "\$ tcpdump -r upload.pcap -nn -t"
      timeout 30 tcpdump -r "$work/upload.pcap" -nn -t 2>/dev/null
      echo
      echo "\$ tcpdump -r upload.pcap -nn -t -X 'tcp[tcpflags] & tcp-push != 0'"
      timeout 30 tcpdump -r "$work/upload.pcap" -nn -t -X 'tcp[tcpflags] & tcp-push != 0' 2>/dev/null
    } >"$out/tcpdump.txt"
  else
    echo "lesson-04.sh: tcpdump cannot capture here (it needs root); leaving $out/tcpdump.txt" >&2
  fi
fi

stop_server
sed "s|$work/||g" "$work/server.log" >"$out/server.txt"

echo "-- too-large.txt"
start_server "$work/server.log" 600 env -C "$work" "$bin/lesson-04" --dir received --max-size 4K
{
  echo "(the server runs with --max-size 4K)"
  show_run "lesson-04-client send postcard.png --as big.png" "$client" send postcard.png --as big.png
  show_run "ls -A received" ls -A received
} >"$out/too-large.txt"
stop_server

echo "-- exercises.txt"
bounded 900 bash book/scripts/exercise-report.bash lesson-04 "$out"

echo "-- nagle.txt (release build)"
{
  echo "\$ cargo bench -p lesson-04 --bench nagle"
  bounded 900 cargo bench --quiet -p lesson-04 --bench nagle 2>/dev/null
} >"$out/nagle.txt"

echo "-- upload-bench.txt"
{
  echo "\$ cargo bench -p lesson-04 --bench upload"
  bounded 900 cargo bench --quiet -p lesson-04 --bench upload 2>/dev/null
  echo
  echo "\$ cargo bench -p lesson-04 --bench upload -- --mib 1024 --rounds 1"
  bounded 900 cargo bench --quiet -p lesson-04 --bench upload -- --mib 1024 --rounds 1 2>/dev/null
} >"$out/upload-bench.txt"
