# Writes the hotreload(1) man page from the binary's own --help texts, so it never drifts
# from the tool: help2man makes NAME, SYNOPSIS, DESCRIPTION and the options from
# `hotreload --help` and `--version`; each command's `hotreload COMMAND --help` follows as
# a section of its own, verbatim.
#
#   cmake -DTOOL=path/to/hotreload -DHELP2MAN=/usr/bin/help2man -DOUTPUT=hotreload.1 -P manpage.cmake
set(include_file ${OUTPUT}.sections)
file(WRITE ${include_file} "")
foreach(command watch probe harness)
  execute_process(COMMAND ${TOOL} ${command} --help OUTPUT_VARIABLE help RESULT_VARIABLE failed)
  if(failed)
    message(FATAL_ERROR "${TOOL} ${command} --help failed")
  endif()
  # roff: a backslash is \e; a line starting with . or ' would be a request.
  string(REPLACE "\\" "\\e" help "${help}")
  string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" help "${help}")
  string(TOUPPER "${command}" title)
  file(APPEND ${include_file} "[COMMAND ${title}]\n.nf\n${help}.fi\n\n")
endforeach()
execute_process(
  COMMAND ${HELP2MAN} --no-info --section 1 --name "keep a process's configuration in step with a file"
          --include ${include_file} --output ${OUTPUT} ${TOOL}
  RESULT_VARIABLE failed)
if(failed)
  message(FATAL_ERROR "help2man failed")
endif()
file(REMOVE ${include_file})
