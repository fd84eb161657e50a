// Bounds checks on an ELF image's tables, made on the raw bytes before LLVM's libObject sees them.
// An ArrayRef, not a std::span: formats/vdso/vdso.cpp is built as C++17 under clang 14 (formats/CMakeLists.txt).
// Used by every reader that hands untrusted ELF bytes to libObject (formats/vdso, formats/kernel).
#pragma once

#include <cstdint>
#include <string>

#include <llvm/ADT/ArrayRef.h>

#include "formats/common/error.h"

namespace vk::vdso {

// Refuses (bad input, with the offset of the structure at fault) an image whose program headers,
// PT_DYNAMIC, PT_NOTE records, section headers or symbol-version tables do not fit `bytes`.
Status check_elf_tables(llvm::ArrayRef<uint8_t> bytes, const std::string& name, bool is64);

}  // namespace vk::vdso
