#!/usr/bin/env bash
# What goes wrong in the original Python servers, as the checker reports it.
#
#   book/scripts/regen-output.sh original
#
# Runs the checker against the original tests/originals/server.py (lesson 02's protocol, in the
# original's dialect) and threaded_server.py (lesson 03's), a fresh copy of the program for
# every check, on a free port, under the course's 2 GiB memory cap. Writes, under $1:
#   server.txt, threaded_server.txt   the checker's output, first line the command
# The checker's test (tests/checker/tests/originals.rs) runs the same checks with the same
# options and fails if its results and these files disagree on which checks pass and fail:
# keep the options here and there the same.
# Needs python3; without it, says so and leaves the files as they were.
set -euo pipefail
. "$(dirname "$0")/common.sh"
out=${1:?usage: original.sh OUTPUT_DIR}
checker=target/debug/checker

if ! command -v python3 >/dev/null; then
  echo "original.sh: python3 is not installed; leaving $out as it was" >&2
  exit 0
fi

run() {
  local lesson=$1 file=$2
  local args=(--lesson "$lesson" --original --idle-timeout 2 --timeout 2)
  {
    echo "\$ cargo run -p checker -- ${args[*]}"
    # The checker exits 1 when a check fails, which is the point here.
    bounded 300 "$checker" "${args[@]}" || true
  } >"$out/$file.tmp"
  mv "$out/$file.tmp" "$out/$file"
  echo "wrote $out/$file"
}

run 02 server.txt
run 03 threaded_server.txt
