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
# 12 minutes. Runs bind loopback addresses only. A step whose tool is missing (tcpdump, strace,
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
pids=()
for name in "$@"; do
  mkdir -p "$outdir/$name"
  echo "== $name"
  timeout -k 5 720 bash "book/scripts/$name.sh" "$outdir/$name" >"$outdir/$name.log" 2>&1 &
  pids+=("$!:$name")
done
failed=0
for entry in "${pids[@]}"; do
  if wait "${entry%%:*}"; then
    echo "== ${entry#*:}: done"
  else
    echo "== ${entry#*:}: FAILED; its log:"
    cat "$outdir/${entry#*:}.log"
    failed=1
  fi
  rm -f "$outdir/${entry#*:}.log"
done
exit "$failed"
