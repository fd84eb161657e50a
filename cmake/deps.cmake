# Every dependency comes from Debian; the Makefile installs what is missing.
find_package(LLVM CONFIG REQUIRED
  HINTS /usr/lib/llvm-19/lib/cmake/llvm /usr/lib/llvm-18/lib/cmake/llvm
        /usr/lib/llvm-17/lib/cmake/llvm /usr/lib/llvm-16/lib/cmake/llvm
        /usr/lib/llvm-15/lib/cmake/llvm /usr/lib/llvm-14/lib/cmake/llvm)
if(LLVM_VERSION_MAJOR VERSION_LESS 14 OR LLVM_VERSION_MAJOR VERSION_GREATER 19)
  message(FATAL_ERROR "LLVM ${LLVM_VERSION} found; vdsokit accepts LLVM 14 to 19")
endif()
message(STATUS "LLVM ${LLVM_PACKAGE_VERSION} from ${LLVM_DIR}")
add_library(vk_llvm INTERFACE)
target_include_directories(vk_llvm SYSTEM INTERFACE ${LLVM_INCLUDE_DIRS})
target_compile_definitions(vk_llvm INTERFACE ${LLVM_DEFINITIONS})
# Only the components used (ELF reading, SHA-256, xxHash), linked statically: the shared libLLVM
# (105 MiB, pulling ICU and z3) cost 11 ms and 38 MiB per start (issue 11). --as-needed drops the
# shared libraries the component archives name but the linked objects never call (z3, ...).
# VK_LLVM_SHARED=ON links the shared libLLVM instead (faster links while developing).
option(VK_LLVM_SHARED "Link the shared libLLVM instead of the static component libraries" OFF)
if(VK_LLVM_SHARED AND TARGET LLVM)
  target_link_libraries(vk_llvm INTERFACE LLVM)
else()
  llvm_map_components_to_libnames(VK_LLVM_LIBS object support)
  target_link_libraries(vk_llvm INTERFACE ${VK_LLVM_LIBS})
  target_link_options(vk_llvm INTERFACE LINKER:--as-needed)
endif()

find_package(CLI11 CONFIG REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(doctest REQUIRED)
find_package(Protobuf REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(LibArchive REQUIRED)
find_package(Threads REQUIRED)
