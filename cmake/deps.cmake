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
# Only the components used (ELF reading, xxHash), linked statically: the shared libLLVM
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

# The other libraries, linked statically from Debian's own archives (lib*.a of the same -dev packages)
# for start-up time (issue 11): loading and relocating the shared libprotobuf, yaml-cpp and libarchive
# (with libxml2 + ICU, nettle, acl, lz4, zstd, ... behind it) was most of a one-set `check`'s CPU.
# A static libarchive only brings the objects vdsokit calls: formats/archive registers tar/cpio and the
# compressions by name (never archive_read_support_format_all or the by-code archive_write_set_format
# that names every writer), so its xar reader/writer and with them libxml2/ICU stay out of the link
# (the kernel readers' archive_read_support_filter_all brings only decompressors). libstdc++ and libgcc are linked
# statically too; glibc stays shared (libarchive's iconv and the locale need its loadable modules).
# VK_STATIC_DEPS=OFF links the shared libraries (faster links while developing, like VK_LLVM_SHARED);
# it is the default of the sanitizer/fuzz build, which measures correctness, not start-up.
if(VK_SANITIZE OR VK_FUZZ)
  set(vk_static_default OFF)
else()
  set(vk_static_default ON)
endif()
option(VK_STATIC_DEPS "Link libprotobuf, yaml-cpp, libarchive and their compressors statically" ${vk_static_default})
add_library(vk_dep_protobuf INTERFACE)
add_library(vk_dep_yaml INTERFACE)
add_library(vk_dep_archive INTERFACE)
# SHA-256 (formats/common/sha256.cpp) is nettle's (nettle-dev; libarchive uses it too).
add_library(vk_dep_nettle INTERFACE)
target_include_directories(vk_dep_archive SYSTEM INTERFACE ${LibArchive_INCLUDE_DIRS})
if(VK_STATIC_DEPS)
  # libarchive's own dependencies as `pkg-config --static libarchive` names them, less libxml2 (see
  # above) and libacl (only its disk reader/writer, which vdsokit never calls, use it). Their -dev
  # packages are in the Makefile's DEB_BUILD (libarchive-dev does not depend on them).
  set(vk_static_missing "")
  foreach(lib protobuf yaml-cpp archive nettle lzma zstd lz4 bz2 z)
    string(MAKE_C_IDENTIFIER "VK_STATIC_${lib}" var)
    find_library(${var} NAMES lib${lib}.a)
    if(NOT ${var})
      list(APPEND vk_static_missing lib${lib}.a)
    endif()
  endforeach()
  if(vk_static_missing)
    message(FATAL_ERROR "VK_STATIC_DEPS: ${vk_static_missing} not found (Debian: `make deps` installs the -dev "
                        "packages that ship them); or configure with -DVK_STATIC_DEPS=OFF")
  endif()
  target_link_libraries(vk_dep_protobuf INTERFACE ${VK_STATIC_protobuf} ${VK_STATIC_z} Threads::Threads)
  target_include_directories(vk_dep_protobuf SYSTEM INTERFACE ${Protobuf_INCLUDE_DIRS})
  target_link_libraries(vk_dep_yaml INTERFACE ${VK_STATIC_yaml_cpp})
  target_link_libraries(vk_dep_nettle INTERFACE ${VK_STATIC_nettle})
  target_include_directories(vk_dep_yaml SYSTEM INTERFACE ${YAML_CPP_INCLUDE_DIR})
  target_link_libraries(vk_dep_archive INTERFACE ${VK_STATIC_archive} ${VK_STATIC_nettle}
    ${VK_STATIC_lzma} ${VK_STATIC_zstd} ${VK_STATIC_lz4} ${VK_STATIC_bz2} ${VK_STATIC_z} Threads::Threads)
  # --gc-sections: libarchive 3.6's pax writer needs a helper that sits in archive_write_set_format.o
  # beside the by-code table naming every writer; Debian compiles it with one section per function,
  # so the table and the xar writer it names (and its libxml2 references) are dropped, unreferenced.
  target_link_options(vk_dep_archive INTERFACE -static-libstdc++ -static-libgcc LINKER:--gc-sections)
  # Relative relocations packed (DT_RELR, glibc >= 2.36, binutils >= 2.38): the loader reads 2 KiB
  # instead of 260 KiB of .rela.dyn entries at every start.
  include(CheckLinkerFlag)
  check_linker_flag(CXX "LINKER:-z,pack-relative-relocs" VK_HAVE_RELR)
  if(VK_HAVE_RELR)
    target_link_options(vk_dep_archive INTERFACE LINKER:-z,pack-relative-relocs)
  endif()
  # LLVM's Support library names terminfo (LLVM <= 18) and zlib: their archives too. llvm-N-dev
  # depends on libncurses-dev (libtinfo.a) and zlib1g-dev.
  find_library(VK_STATIC_tinfo NAMES libtinfo.a)
  if(TARGET Terminfo::terminfo AND VK_STATIC_tinfo)
    set_target_properties(Terminfo::terminfo PROPERTIES IMPORTED_LOCATION "${VK_STATIC_tinfo}")
  endif()
  if(TARGET ZLIB::ZLIB)
    set_target_properties(ZLIB::ZLIB PROPERTIES IMPORTED_LOCATION "${VK_STATIC_z}")
  endif()
else()
  target_link_libraries(vk_dep_protobuf INTERFACE protobuf::libprotobuf)
  target_link_libraries(vk_dep_yaml INTERFACE yaml-cpp)
  find_library(VK_SHARED_nettle NAMES nettle REQUIRED)
  target_link_libraries(vk_dep_nettle INTERFACE ${VK_SHARED_nettle})
  target_link_libraries(vk_dep_archive INTERFACE LibArchive::LibArchive)
endif()
