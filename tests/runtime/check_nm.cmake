# Fails when any object of the static library has an undefined symbol.
# nm prints "member.o:" headers and blank lines for an archive; anything
# else is an undefined symbol.
execute_process(COMMAND ${NM} -u ${LIB} OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "nm failed on ${LIB}")
endif()
string(REGEX REPLACE "[^\n]*\\.o:\n" "" rest "${out}")
string(STRIP "${rest}" rest)
if(NOT rest STREQUAL "")
  message(FATAL_ERROR "undefined symbols in ${LIB}:\n${rest}")
endif()
message(STATUS "no undefined symbols in ${LIB}")
