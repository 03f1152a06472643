# Fails the build if a kernel object compiled with AVX flags defines a weak
# (COMDAT) symbol outside its pygd::isa_<level> namespace: the linker may pick
# that copy for every caller, and baseline CPUs would then hit "Illegal
# instruction".  Run by CMakeLists.txt after _core is linked:
#   cmake -DNM=<nm> -DOBJECTS="a.o|b.o" -P check_isa_symbols.cmake
# Allowed besides pygd::isa_*: only the exception-personality pointer
# DW.ref.__gxx_personality_v0 (see below).
string(REPLACE "|" ";" objects "${OBJECTS}")
set(bad "")
foreach(obj IN LISTS objects)
  execute_process(COMMAND "${NM}" -C --defined-only "${obj}"
                  OUTPUT_VARIABLE symbols RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(WARNING "check_isa_symbols: could not run ${NM} on ${obj}; skipped")
    continue()
  endif()
  string(REPLACE "\n" ";" lines "${symbols}")
  foreach(line IN LISTS lines)
    if(line MATCHES "^[0-9a-fA-F]* [WVu] (.*)$")
      set(name "${CMAKE_MATCH_1}")
      # DW.ref.__gxx_personality_v0 (and the C runtime's __gcc_ one) is the
      # compiler's pointer to the exception personality routine, emitted as a
      # weak symbol by some builds (e.g. -fsanitize=address,undefined): data,
      # no code compiled for the object's instruction set.  Nothing else passes.
      if(name MATCHES "^DW\\.ref\\.__g(xx|cc)_personality_v0$")
        continue()
      endif()
      if(NOT name MATCHES "pygd::isa_")
        string(APPEND bad "\n  ${obj}: ${name}")
      endif()
    endif()
  endforeach()
endforeach()
if(bad)
  message(FATAL_ERROR "Weak symbols outside pygd::isa_<level> in per-ISA kernel objects "
                      "(see csrc/include/pygd/isa.hpp for the rules):${bad}")
endif()
