#!/usr/bin/env bash
# The exercise report of one lesson, as a learner sees it on the shipped stubs: the exact command
# the chapter gives, and what it printed (cargo's build lines left out, its `Running` line kept).
# Called by each lesson's script:  bash book/scripts/exercise-report.bash lesson-NN OUT_DIR
# Writes OUT_DIR/exercises.txt (every exercise) and OUT_DIR/exercises-hint.txt (the first hint).
# Each run is bounded: the checks bound themselves, `timeout` bounds the build and the rest.
set -euo pipefail
lesson=$1
out=$2
command="cargo test -p $lesson --test exercises -- mine"
report() {
  timeout 600 env "$@" 2>&1 | grep -Ev '^ *(Compiling|Finished|Blocking|Building) ' || true
}
{
  echo "\$ $command"
  report $command
} >"$out/exercises.txt"
{
  echo "\$ HINT=1 $command 1"
  report HINT=1 $command 1
} >"$out/exercises-hint.txt"
# README.md shows lesson 01's report too, between its two exercise-report markers.
if [ "$lesson" = lesson-01 ] && [ -f README.md ]; then
  python3 - "$out/exercises.txt" <<'PY'
import sys
report = open(sys.argv[1]).read()
readme = open("README.md").read()
start = readme.index("<!-- exercise-report:")
start = readme.index("\n", start) + 1
end = readme.index("<!-- /exercise-report -->")
open("README.md", "w").write(readme[:start] + "```text\n" + report + "```\n" + readme[end:])
PY
fi
