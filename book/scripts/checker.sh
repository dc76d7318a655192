#!/usr/bin/env bash
# The checker's own page: its list of checks, and its output against lesson 01.
#
#   book/scripts/regen-output.sh checker
#
# Writes, under $1:
#   list-03.txt     `checker --lesson 03 --list`: every check and what it proves
#   lesson-01.txt   the checker against lesson 01's server, a fresh server per check
# The output against the original Python servers is written by original.sh.
set -euo pipefail
out=${1:?usage: checker.sh OUTPUT_DIR}
checker=target/debug/checker

{
  echo "\$ cargo run -p checker -- --lesson 03 --list"
  "$checker" --lesson 03 --list
} >"$out/list-03.txt"
echo "wrote $out/list-03.txt"

{
  echo "\$ cargo build -p lesson-01"
  echo "\$ cargo run -p checker -- --lesson 01 --spawn 'target/debug/lesson-01 --idle-timeout 1' --idle-timeout 1"
  "$checker" --lesson 01 --spawn "target/debug/lesson-01 --idle-timeout 1" --idle-timeout 1
} >"$out/lesson-01.txt"
echo "wrote $out/lesson-01.txt"
