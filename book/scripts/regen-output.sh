#!/usr/bin/env bash
# Regenerates the program output the book shows, from real runs of the lessons.
#
#   book/scripts/regen-output.sh [--out DIR] [NAME...]
#
# NAME is a script of this folder without `.sh` (lesson-01, lesson-02, original, checker, ...);
# without names, every one. Each book/scripts/NAME.sh runs its programs and writes what they
# printed under DIR/NAME/ (DIR is book/src/output by default, which the chapters include).
#
# Runs unattended, as root (the scripts that show port 8888 run in network namespaces of their
# own, see common.sh), in under 15 minutes: the scripts run at the same time, each for at most
# 12 minutes, except those that measure speed, which run one after another at the end. Runs bind loopback addresses only. A step whose tool is missing (tcpdump, strace,
# nc, python3) says so and leaves that output as it was.
set -euo pipefail
cd "$(dirname "$0")/../.."
outdir=book/src/output
if [ "${1:-}" = "--out" ]; then
  outdir=${2:?usage: regen-output.sh [--out DIR] [NAME...]}
  shift 2
fi
mkdir -p "$outdir"
outdir=$(realpath "$outdir")
timeout -k 5 600 cargo build --workspace --bins --examples --quiet
if [ "$#" -eq 0 ]; then
  set -- $(cd book/scripts && ls *.sh | grep -vx -e 'regen-output.sh' -e 'common.sh' | sed 's/\.sh$//')
fi
# Scripts that measure speed run after the others, one at a time, so that nothing else competes
# for the CPUs while they measure; the others run all at once.
measuring=" lesson-03 lesson-04 lesson-05 perf "
failed=0
# run NAME: runs book/scripts/NAME.sh (at most 12 minutes), its output in a log shown on failure.
run() {
  local status=0
  mkdir -p "$outdir/$1"
  timeout -k 5 720 bash "book/scripts/$1.sh" "$outdir/$1" >"$outdir/$1.log" 2>&1 || status=$?
  if [ "$status" = 0 ]; then
    echo "== $1: done"
  else
    echo "== $1: FAILED (status $status); its log:"
    cat "$outdir/$1.log"
  fi
  rm -f "$outdir/$1.log"
  return "$status"
}
pids=()
for name in "$@"; do
  [[ "$measuring" == *" $name "* ]] && continue
  echo "== $name"
  run "$name" &
  pids+=("$!")
done
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
for name in "$@"; do
  [[ "$measuring" == *" $name "* ]] || continue
  echo "== $name"
  run "$name" || failed=1
done
exit "$failed"
