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

# The compiled catalog (builtin.h "compiled form"): vdsokit-catalog-compile, itself linked without
# the rows, reads corpora/catalog.yaml through Catalog::parse and writes them. The rows are object
# files linked straight into every program using analyzers/ (the references in catalog.cpp are weak,
# so they must not sit in an archive); vdsokit then starts without parsing YAML.
add_executable(vdsokit-catalog-compile catalog/compile_main.cpp)
target_link_libraries(vdsokit-catalog-compile PRIVATE vk_formats)
target_compile_options(vdsokit-catalog-compile PRIVATE ${VK_WARNINGS})
set(VK_CATALOG_COMPILED "${CMAKE_CURRENT_BINARY_DIR}/catalog_compiled.cpp")
add_custom_command(OUTPUT "${VK_CATALOG_COMPILED}"
  COMMAND vdsokit-catalog-compile "${VK_CORPORA}/catalog.yaml" "${VK_CATALOG_COMPILED}"
  DEPENDS vdsokit-catalog-compile "${VK_CORPORA}/catalog.yaml"
  COMMENT "Compiling the built-in vDSO catalog (corpora/catalog.yaml)"
  VERBATIM)
add_library(vk_catalog_compiled OBJECT "${VK_CATALOG_COMPILED}")
target_include_directories(vk_catalog_compiled PRIVATE ${PROJECT_SOURCE_DIR})
