# vk_m32_helper(<target> OUT <file> SOURCES <c files> [CFLAGS <flags>] [DEPENDS <files>])
# An always-run target that builds OUT with `cc -m32` and the runtime sources when the compiler can
# link 32-bit programs at BUILD time (cmake/m32_build.cmake says why it is a build-time decision).
function(vk_m32_helper target)
  cmake_parse_arguments(ARG "" "OUT" "SOURCES;CFLAGS;DEPENDS" ${ARGN})
  file(GLOB rt_files ${PROJECT_SOURCE_DIR}/runtime/src/* ${PROJECT_SOURCE_DIR}/runtime/include/*)
  set(params ${CMAKE_CURRENT_BINARY_DIR}/${target}.params.cmake)
  set(text "")
  foreach(v CC OUT RT_CFLAGS RT_SOURCES INCLUDE CFLAGS SOURCES DEPENDS)
    set(val_CC ${CMAKE_C_COMPILER})
    set(val_OUT ${ARG_OUT})
    set(val_RT_CFLAGS ${VK_RT_CFLAGS})
    set(val_RT_SOURCES ${VK_RT_SOURCES})
    set(val_INCLUDE ${VK_RT_INCLUDE})
    set(val_CFLAGS ${ARG_CFLAGS})
    set(val_SOURCES ${ARG_SOURCES})
    set(val_DEPENDS ${ARG_DEPENDS} ${rt_files})
    string(APPEND text "set(M32_${v} \"${val_${v}}\")\n")
  endforeach()
  file(CONFIGURE OUTPUT ${params} CONTENT "${text}" @ONLY)
  add_custom_target(${target} ALL
    COMMAND ${CMAKE_COMMAND} -DPARAMS=${params} -P ${PROJECT_SOURCE_DIR}/cmake/m32_build.cmake
    BYPRODUCTS ${ARG_OUT}
    COMMENT "" VERBATIM)
endfunction()
