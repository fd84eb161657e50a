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
if(TARGET LLVM)
  target_link_libraries(vk_llvm INTERFACE LLVM)        # the shared libLLVM: fast links
else()
  llvm_map_components_to_libnames(VK_LLVM_LIBS object support)
  target_link_libraries(vk_llvm INTERFACE ${VK_LLVM_LIBS})
endif()

find_package(CLI11 CONFIG REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(doctest REQUIRED)
find_package(Protobuf REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(LibArchive REQUIRED)
find_package(Threads REQUIRED)
