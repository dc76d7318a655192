#!/usr/bin/env bash
# The Chinese edition: book/po/zh-CN.po, the translation of every message of the English book.
#
#   bash book/scripts/translation.bash update   after the English changed: new messages come in
#                                               untranslated, changed ones are marked fuzzy
#   bash book/scripts/translation.bash check    fails, naming each message, if any message of the
#                                               English book is untranslated or fuzzy
#
# Needs mdbook, mdbook-xgettext (cargo install mdbook-i18n-helpers --locked --version 0.4.0)
# and gettext's msgmerge and msgattrib (Debian's package gettext). book/po/README.md says how
# to translate what `update` brings in.
set -euo pipefail
cd "$(dirname "$0")/../.."
po=book/po/zh-CN.po
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The messages of the English book as it is now: includes expanded, code blocks left out.
if ! MDBOOK_OUTPUT='{"xgettext": {"pot-file": "messages.pot"}}' \
  timeout 300 mdbook build book -d "$tmp/pot" >"$tmp/xgettext.log" 2>&1; then
  cat "$tmp/xgettext.log" >&2
  echo "translation.bash: mdbook-xgettext failed (above)" >&2
  exit 1
fi
pot=$tmp/pot/messages.pot

case "${1:-}" in
update)
  msgmerge --quiet --update --backup=none "$po" "$pot"
  # Messages the English no longer has go, instead of piling up at the end of the file.
  msgattrib --no-obsolete "$po" -o "$po"
  msgfmt --statistics "$po" -o /dev/null
  ;;
check)
  msgmerge --quiet "$po" "$pot" -o "$tmp/merged.po"
  failed=0
  for kind in untranslated fuzzy; do
    if [ "$kind" = untranslated ]; then
      msgattrib --untranslated --no-obsolete "$tmp/merged.po" -o "$tmp/$kind.po"
    else
      msgattrib --only-fuzzy --no-obsolete "$tmp/merged.po" -o "$tmp/$kind.po"
    fi
    # One line per message: where it is, and how it begins.
    count=$(grep -c "^msgid " "$tmp/$kind.po" 2>/dev/null || true)
    count=${count:-0}
    # The header counts as one message when there is any other.
    count=$((count > 0 ? count - 1 : 0))
    if [ "$count" -gt 0 ]; then
      failed=1
      echo "$count $kind message(s) in $po; run \`bash book/scripts/translation.bash update\`, then translate them (book/po/README.md):"
      msgcat --no-wrap "$tmp/$kind.po" | awk '
        /^#: / { where = $2 }
        /^msgid "/ { text = substr($0, 8); sub(/"$/, "", text)
                     if (text != "") printf "  %s: %s\n", where, substr(text, 1, 70) }'
    fi
  done
  if [ "$failed" = 0 ]; then
    msgfmt --statistics "$tmp/merged.po" -o /dev/null 2>&1 | sed 's/^/zh-CN: /'
  fi
  exit "$failed"
  ;;
*)
  echo "usage: bash book/scripts/translation.bash update|check" >&2
  exit 2
  ;;
esac
