#!/usr/bin/env bash
# The bash completion (src/cli/hotreload.bash) against a real binary: commands, flags of a
# command, a flag's choices, files for PATH.
#
#   tests/completion_test.sh BINARY COMPLETION_SCRIPT
set -u
binary=$1
# shellcheck source=/dev/null
source "$2"
status=0
expect() {  # expect "WORDS..." "COMPLETIONS"
  read -r -a COMP_WORDS <<<"$1"
  COMP_WORDS[0]=$binary
  [[ $1 == *' ' ]] && COMP_WORDS+=("")
  COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
  COMPREPLY=()
  _hotreload
  local got="${COMPREPLY[*]}"
  if [[ $got == "$2" ]]; then
    echo "ok   '$1' -> '$got'"
  else
    echo "FAIL '$1' -> '$got', expected '$2'"
    status=1
  fi
}
expect "hotreload wa" "watch"
expect "hotreload " "watch probe harness help"
expect "hotreload --ver" "--version"
expect "hotreload watch --mo" "--mode"
expect "hotreload watch --mode " "auto events poll"
expect "hotreload watch --log-format j" "json"
expect "hotreload watch --webhook-r" "--webhook-retries"
expect "hotreload watch --poll-interval " ""
expect "hotreload probe --j" "--json"
expect "hotreload watch /dev/nul" "/dev/null"
exit $status
