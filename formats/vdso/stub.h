// System-call entry stubs written over vDSO exports, and the vdsokit mark that records them
// (docs/rewrite.md "exports"; the byte form is ../shared/docs/real-restores.md §3 "Proven fix").
//
// A stub replaces the first bytes of an exported function with a direct system call taking the same
// arguments and giving the same result, so the function no longer reads the vvar page that a CRIU
// proxy restore leaves empty (vdso-restore.md §6.4). A leading endbr64/endbr32 is kept in place.
//
// The mark sits in the zero padding after the ELF image, at the end of the vDSO's last page, where
// neither CRIU (it parses the ELF and probes offset 0 for its own mark, vdso-restore.md §5.3, §7) nor
// the kernel looks. It records the original bytes under every stub, so the vDSO as it was before the
// rewrite can be rebuilt exactly (identify, a second run, undo).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vk::vdso {

enum class Abi;

// The system call a stub makes; `query_guard`: getrandom's state-size query (opaque_len == ~0UL, the
// 5th argument) answers -ENOSYS instead, so glibc falls back to the system call (real-restores.md §3).
struct SyscallForm {
  std::string function;    // "__vdso_clock_getres"
  uint32_t nr = 0;         // x86_64 or i386 system call number
  bool query_guard = false;
};

// The form for an export under an ABI, or nullopt when no system call does the same (e.g. the futex
// helpers, __vdso_sgx_enter_enclave, __kernel_vsyscall).
std::optional<SyscallForm> syscall_form(Abi abi, const std::string& function);

// The stub bytes (without any endbr prefix).
std::vector<uint8_t> encode_stub(Abi abi, const SyscallForm& f);

// An endbr64 (x86_64) / endbr32 (i386) at `off`.
bool endbr_at(const std::vector<uint8_t>& bytes, uint64_t off, Abi abi);

// A stub found at a function entry.
struct Stub {
  uint64_t offset = 0;     // function entry (the endbr, if any, stays there)
  uint64_t at = 0;         // where the stub bytes start (offset, or offset + 4 after an endbr)
  uint32_t length = 0;     // stub bytes
  uint32_t nr = 0;
  bool query_guard = false;
};
// Recognises any stub encode_stub writes, after an optional endbr.
std::optional<Stub> stub_at(const std::vector<uint8_t>& bytes, uint64_t off, Abi abi);

// ---- the vdsokit mark -------------------------------------------------------------------------
// Layout (little-endian), ending exactly at the end of the last page:
//   +0  "vdsokitS"  +8 u16 version (1)  +10 u16 entries  +12 u32 total size
//   +16 sha256 of the vDSO pages before any stub (32 bytes)   +48 restorer name (16 bytes, NUL padded)
//   +64 entries: u32 function offset, u8 length, u8 reserved x3, original bytes, padded to 8
//   last 8 bytes: u32 total size, "VKS1"
struct MarkEntry {
  uint64_t at = 0;                 // offset of the replaced bytes
  std::vector<uint8_t> original;   // what was there before
};
struct StubMark {
  uint64_t offset = 0;             // where the mark starts in the vDSO bytes
  uint32_t size = 0;
  std::string original_sha256;     // hex
  std::string restorer;
  std::vector<MarkEntry> entries;
};

inline constexpr uint32_t kStubMarkVersion = 1;

std::vector<uint8_t> encode_stub_mark(const std::string& original_sha256_hex, const std::string& restorer,
                                      const std::vector<MarkEntry>& entries);
// A mark at the end of `bytes` (checked: size bounds, header, entries inside the image).
std::optional<StubMark> find_stub_mark(const std::vector<uint8_t>& bytes);
// The bytes before the rewrite: original bytes put back, the mark area zeroed.
std::vector<uint8_t> without_stubs(const std::vector<uint8_t>& bytes, const StubMark& m);

}  // namespace vk::vdso
