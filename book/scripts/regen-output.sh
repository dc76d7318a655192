#!/usr/bin/env bash
# Regenerates the program output the book shows, from real runs of the lessons.
#
#   book/scripts/regen-output.sh              everything
#   book/scripts/regen-output.sh lesson-02    one lesson (or `original`, `checker`)
#
# Each book/scripts/NAME.sh runs its programs and writes what they printed under
# book/src/output/NAME/, which the chapters include with {{#include}}. Runs bind 127.0.0.1
# only. Some steps need tools a learner may not have (tcpdump, strace); a script that lacks one
# says so and leaves that output as it was.
set -euo pipefail
cd "$(dirname "$0")/../.."
# The runs use the lessons' default address, 127.0.0.1:8888, as a learner would: one
# regeneration at a time on this machine.
exec 9>/tmp/course-regen-output.lock
flock 9
cargo build --workspace --bins --quiet
if [ "$#" -eq 0 ]; then
  # Every script but this one: the lessons, then the checker's pages.
  set -- $(cd book/scripts && ls *.sh | grep -vx 'regen-output.sh' | sed 's/\.sh$//')
fi
for lesson in "$@"; do
  echo "== $lesson"
  mkdir -p "book/src/output/$lesson"
  bash "book/scripts/$lesson.sh" "book/src/output/$lesson"
done
