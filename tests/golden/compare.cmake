# Runs `vdsokit matrix` and fails with a diff when the result differs from the committed golden file.
# --truth: the cells a real restore verified (corpora/truth) carry a mark.
execute_process(COMMAND ${VDSOKIT} matrix --restorer all --truth ${TRUTH} --format md -o ${OUT} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "vdsokit matrix failed with exit code ${rc}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${GOLDEN} ${OUT} RESULT_VARIABLE same)
if(NOT same EQUAL 0)
  execute_process(COMMAND diff -u ${GOLDEN} ${OUT})
  message(FATAL_ERROR "matrix differs from ${GOLDEN}; review the diff and regenerate the golden file if it is right")
endif()
