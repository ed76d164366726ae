# Writes OUT (a header defining DEEPVOX_VERSION) from `git describe` in SRC, at build time, so the
# provenance attribute of every run file names the commit actually built, not the one configured.
# The file is rewritten only when the version changes, so an unchanged tree rebuilds nothing.
execute_process(COMMAND git describe --always --dirty --tags
  WORKING_DIRECTORY ${SRC} OUTPUT_VARIABLE version
  OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT version)
  set(version "unknown")
endif()
set(content "#pragma once\n#define DEEPVOX_VERSION \"${version}\"\n")
set(old "")
if(EXISTS ${OUT})
  file(READ ${OUT} old)
endif()
if(NOT content STREQUAL old)
  file(WRITE ${OUT} "${content}")
endif()
