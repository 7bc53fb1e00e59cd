#!/bin/sh
# Every program given runs with --help, exits 0, prints a "Usage:" line first, and no line
# wider than 100 columns (counted as a terminal shows them, hence the UTF-8 locale).
set -u
export LC_ALL=C.UTF-8
status=0
for program in "$@"; do
  out=$("$program" --help) || { echo "FAIL $program --help exited $?"; status=1; continue; }
  case "$out" in
    Usage:*) ;;
    *) echo "FAIL $program --help does not start with Usage:"; status=1 ;;
  esac
  widest=$(printf '%s\n' "$out" | wc -L)
  if [ "$widest" -gt 100 ]; then
    echo "FAIL $program --help is $widest columns wide:"
    printf '%s\n' "$out" | awk 'length($0) > 100'
    status=1
  else
    echo "ok   $program --help ($widest columns)"
  fi
done
exit $status
