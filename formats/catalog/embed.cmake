# The built-in catalog: corpora/catalog.yaml and the vDSO files it names become byte arrays in a
# generated C++ source (formats/catalog/builtin.h). Regenerated whenever the catalog, any corpus
# vDSO or the generator changes; a file named by the catalog but missing fails the build.
set(VK_CORPORA "${PROJECT_SOURCE_DIR}/corpora")
file(GLOB VK_CATALOG_INPUTS CONFIGURE_DEPENDS
  "${VK_CORPORA}/catalog.yaml" "${VK_CORPORA}/kernels/*/*.so")
set(VK_CATALOG_BUILTIN "${CMAKE_CURRENT_BINARY_DIR}/catalog_builtin.cpp")
add_custom_command(OUTPUT "${VK_CATALOG_BUILTIN}"
  COMMAND "${CMAKE_COMMAND}" "-DROOT=${VK_CORPORA}" "-DOUT=${VK_CATALOG_BUILTIN}"
          -P "${CMAKE_CURRENT_SOURCE_DIR}/catalog/embed_gen.cmake"
  DEPENDS ${VK_CATALOG_INPUTS} "${CMAKE_CURRENT_SOURCE_DIR}/catalog/embed_gen.cmake"
  COMMENT "Embedding the built-in vDSO catalog (corpora/catalog.yaml)"
  VERBATIM)
target_sources(vk_formats PRIVATE "${VK_CATALOG_BUILTIN}")
