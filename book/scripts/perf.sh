#!/usr/bin/env bash
# Output for the chapter "Measuring: threads, pools and event loops": every server under the same
# load, measured in one run on this machine by the perf tool (tests/perf). Run it through
# book/scripts/regen-output.sh perf, which passes the output folder (book/src/output/perf) as $1.
#
# It takes a few minutes: the tool builds the servers in release mode, then measures lesson 02,
# lesson 03 (4 and 64 workers), the tokio reference server and the original threaded_server.py
# at 1, 8, 64 and 256 clients, three times; then the idle points (lesson 05 and the tokio
# reference with 1,000 and 10,000 connections, lesson 03 with 1,000, 256 of them active and the
# rest idle), at most 60 s more. Everything runs on 127.0.0.1, on ports the kernel picks.
#
# Tools: python3, for the original tests/originals/threaded_server.py. Without it the figures
# would lack the original that the chapter discusses, so the script says so and leaves the old
# output as it was.
set -euo pipefail
. "$(dirname "$0")/common.sh"
out=$(realpath "$1")

if ! command -v python3 >/dev/null 2>&1; then
  echo "perf.sh: python3 is not installed; leaving $out as it was" >&2
  exit 0
fi
# Every point lasts at least a second (the tool's default): 300 s is enough for all of them.
bounded 660 cargo run --release --quiet -p perf -- --out "$out" --budget 300
