#!/usr/bin/env bash
# The checker's own page: its lists of checks, and its output against lessons 01 and 04.
#
#   book/scripts/regen-output.sh checker
#
# Writes, under $1:
#   list-03.txt     `checker --lesson 03 --list --min-rate 16K`: every check (the slowloris
#                   ones too, which --min-rate adds) and what it proves
#   list-04.txt     the same for lesson 04's binary protocol
#   lesson-01.txt   the checker against lesson 01's server, a fresh server per check
#   lesson-04.txt   the checker against lesson 04's server, on 127.0.0.1:8888, storing into a
#                   fresh temporary folder that is removed afterwards
# The output against the original Python servers is written by original.sh. Runs in a network
# namespace of its own (common.sh; needs root), where port 8888 is free; every step is bounded.
set -euo pipefail
. "$(dirname "$0")/common.sh"
out=$(realpath "${1:?usage: checker.sh OUTPUT_DIR}")
cd "$(dirname "$0")/../.."
checker=target/debug/checker
run_parts "$out" all || exit 1
[ -n "${BOOK_PART:-}" ] || exit 0

work=$(mktemp -d /tmp/checker-book.XXXXXX)
cleanup() {
  stop_server KILL
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

for lesson in 03 04; do
  {
    echo "\$ cargo run -p checker -- --lesson $lesson --list --min-rate 16K"
    bounded 30 "$checker" --lesson "$lesson" --list --min-rate 16K
  } >"$out/list-$lesson.txt"
  echo "wrote $out/list-$lesson.txt"
done

{
  echo "\$ cargo build -p lesson-01"
  echo "\$ cargo run -p checker -- --lesson 01 --spawn 'target/debug/lesson-01 --idle-timeout 1' --idle-timeout 1"
  bounded 300 "$checker" --lesson 01 --spawn "target/debug/lesson-01 --idle-timeout 1" --idle-timeout 1
} >"$out/lesson-01.txt"
echo "wrote $out/lesson-01.txt"

# Lesson 04's server on the default address, storing into a folder of its own.
start_server "$work/server.log" 400 \
  target/debug/lesson-04 --dir "$work/received" --idle-timeout 2 --max-size 1M
{
  echo "\$ cargo run -p lesson-04 -- --dir received --idle-timeout 2 --max-size 1M     # terminal 1"
  echo "\$ cargo run -p checker -- --lesson 04 --idle-timeout 2 --max-size 1M --pid PID # terminal 2"
  bounded 300 "$checker" --lesson 04 --idle-timeout 2 --max-size 1M --pid "$server_pid"
} >"$out/lesson-04.txt"
echo "wrote $out/lesson-04.txt"
