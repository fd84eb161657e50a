# Builds a 32-bit (-m32) helper at BUILD time, not configure time: `cmake -P m32_build.cmake
# -DPARAMS=<file>`, run by an always-out-of-date custom target (cmake/m32.cmake). gcc-multilib may be
# installed after configuring (make test installs it after the first build), so every build probes
# again; when the compiler cannot link -m32 the helper is removed and its users say why (skipped).
# PARAMS sets: M32_CC, M32_OUT, M32_RT_CFLAGS, M32_RT_SOURCES, M32_INCLUDE, M32_CFLAGS, M32_SOURCES,
# M32_DEPENDS (files whose change means a rebuild).
include(${PARAMS})
get_filename_component(dir ${M32_OUT} DIRECTORY)
get_filename_component(name ${M32_OUT} NAME)
set(work ${dir}/${name}.m32)
file(MAKE_DIRECTORY ${work})
file(WRITE ${work}/probe.c "int main(void) { return 0; }\n")
execute_process(COMMAND ${M32_CC} -m32 ${work}/probe.c -o ${work}/probe
                RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
if(NOT rc EQUAL 0)
  if(EXISTS ${M32_OUT})
    file(REMOVE ${M32_OUT})
  endif()
  message(STATUS "${name}: not built, ${M32_CC} -m32 cannot link (apt-get install gcc-multilib); "
                 "the next build tries again")
  return()
endif()

set(need FALSE)
if(NOT EXISTS ${M32_OUT})
  set(need TRUE)
else()
  foreach(f ${PARAMS} ${M32_RT_SOURCES} ${M32_SOURCES} ${M32_DEPENDS})
    if(EXISTS ${f} AND ${f} IS_NEWER_THAN ${M32_OUT})
      set(need TRUE)
    endif()
  endforeach()
endif()
if(NOT need)
  return()
endif()

message(STATUS "Building ${name} (${M32_CC} -m32)")
execute_process(COMMAND ${M32_CC} -m32 -O2 ${M32_RT_CFLAGS} -I${M32_INCLUDE} -c ${M32_RT_SOURCES}
                        -o ${work}/runtime32.o
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${name}: compiling the runtime with -m32 failed")
endif()
execute_process(COMMAND ${M32_CC} -m32 -O2 -g ${M32_CFLAGS} -I${M32_INCLUDE} ${M32_SOURCES}
                        ${work}/runtime32.o -o ${M32_OUT}.tmp
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  file(REMOVE ${M32_OUT}.tmp)
  message(FATAL_ERROR "${name}: linking with -m32 failed")
endif()
file(RENAME ${M32_OUT}.tmp ${M32_OUT})
