# bash completion for hotreload. Commands, flags and the choices of a flag's value
# ("--mode auto|events|poll") are read from the installed binary's own --help when asked,
# so they never drift from the tool.
_hotreload() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} command="" i help
  for ((i = 1; i < COMP_CWORD; i++)); do
    case ${COMP_WORDS[i]} in
      -*) ;;
      *) command=${COMP_WORDS[i]}; break ;;
    esac
  done
  if [[ -z $command ]]; then
    help=$("${COMP_WORDS[0]}" --help 2>/dev/null)
    if [[ $cur != -* ]]; then
      COMPREPLY=($(compgen -W "$(awk '/^Commands:/ {on = 1; next} on && /^  [a-z]/ {print $1} /^$/ {on = 0}' <<<"$help")" -- "$cur"))
      return
    fi
  else
    help=$("${COMP_WORDS[0]}" "$command" --help 2>/dev/null)
  fi
  if [[ $prev == --* ]]; then
    # The word after a flag is its value: offer the choices the help lists, files for
    # FILE/DIR/PATH, nothing we could only guess (DUR, SIZE, CMD…).
    local spec
    spec=$(sed -nE "s/^  (-[a-zA-Z], )?$prev ([^ ]+).*/\\2/p" <<<"$help" | head -n1)
    if [[ -n $spec ]]; then
      case $spec in
        *'|'*) COMPREPLY=($(compgen -W "${spec//|/ }" -- "$cur")) ;;
        FILE | DIR | PATH) COMPREPLY=($(compgen -f -- "$cur")) ;;
      esac
      return
    fi
  fi
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$(sed -nE 's/^  (-[a-zA-Z], )?(--[a-z][a-z-]*).*/\2/p' <<<"$help")" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))  # PATHs
  fi
}
complete -F _hotreload hotreload
