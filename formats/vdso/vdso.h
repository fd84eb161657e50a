// The vDSO as an object: ELF view through LLVM libObject, plus what CRIU leaves in it (proxy
// trampolines at symbol entries, marks at offset 0). Inputs may be truncated or hostile.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "formats/common/error.h"
#include "formats/vdso/stub.h"

namespace vk::vdso {

// Largest vDSO accepted from an image or a file: real ones are 2-3 pages, a CRIU proxy the same.
inline constexpr uint64_t kMaxVdsoBytes = 1ull << 20;

enum class Abi { Unknown, X86_64, I386, X32 };
const char* abi_name(Abi abi);                  // "x86_64", "i386", "x32", "unknown"
std::optional<Abi> abi_from_name(std::string_view name);

struct Symbol {
  std::string name;
  std::string version;        // e.g. LINUX_2.6 ("" when unversioned)
  uint64_t offset = 0;        // st_value - PT_LOAD p_vaddr
  uint64_t size = 0;
  std::string bind;           // GLOBAL | WEAK
  std::string type;           // FUNC | OBJECT | NOTYPE ...
  bool is_function() const { return type == "FUNC"; }
};

struct Note {
  std::string owner;
  uint32_t type = 0;
  std::vector<uint8_t> desc;
};

// A CRIU proxy jump written over a symbol entry (docs/vdso-restore.md §6.4).
struct Trampoline {
  std::vector<std::string> symbols;   // every exported name at this offset
  uint64_t offset = 0;
  uint64_t target = 0;                // absolute jump target
  int length = 0;                     // 16 (x86_64 form) or 11 (i386 form)
};

// A CRIU vdso mark at offset 0 (docs/vdso-restore.md §5.2).
struct Mark {
  int version = 0;                    // 1, 2 or 3 (from the signature; V2/V3 also store it)
  uint64_t stored_version = 0;
  uint64_t orig_vdso = 0;             // V1: proxy_addr, V2: proxy_vdso_addr
  uint64_t orig_vvar = ~0ull;         // V2: proxy_vvar_addr; ~0 when absent
  uint64_t rt_vvar = ~0ull;           // V3 only
};

struct Vdso {
  std::string name;
  std::vector<uint8_t> bytes;         // as given (usually whole pages)
  bool elf = false;                   // parsed as ELF
  Abi abi = Abi::Unknown;
  uint8_t osabi = 0;
  uint64_t elf_size = 0;              // max(e_shoff + e_shnum*e_shentsize, end of PT_LOAD)
  uint64_t load_vaddr = 0;
  uint64_t load_memsz = 0;
  std::string soname;
  bool has_hash = false;              // DT_HASH
  bool has_gnu_hash = false;          // DT_GNU_HASH
  std::vector<Symbol> symbols;        // defined dynamic GLOBAL/WEAK symbols, by offset
  std::vector<Note> notes;
  std::string build_id;               // hex of the GNU build-id note
  std::optional<uint32_t> linux_version;   // LINUX_VERSION_CODE from the "Linux" note type 0
  std::string build_salt;             // "Linux" note type 0x100
  std::string compiler;               // .comment
  std::optional<Mark> mark;
  std::vector<Trampoline> trampolines;
  std::optional<StubMark> stub_mark;  // vdsokit's record of system-call stubs (stub.h)
  std::vector<Stub> stubs;            // system-call stubs found at exported entries

  uint64_t pages() const { return (bytes.size() + 4095) / 4096; }
  const Symbol* find(std::string_view symbol) const;
  // Exported functions, one per distinct offset, preferring the __vdso_/__kernel_ name.
  std::vector<const Symbol*> entry_points() const;
  std::string version_string() const;  // "6.18.44" from linux_version, "" when absent
};

// Parses bytes as a vDSO. A mark at offset 0 is reported, not an error (the ELF header is then
// overwritten, so `elf` stays false). Structural ELF errors are errors naming `name` and an offset.
Expected<Vdso> parse(std::string name, std::vector<uint8_t> bytes);

// Detectors, usable on any bytes.
std::optional<Mark> find_mark(const std::vector<uint8_t>& bytes);
std::optional<Trampoline> trampoline_at(const std::vector<uint8_t>& bytes, uint64_t offset);

// Encoders for the same forms (used by rewriters and tests).
std::vector<uint8_t> encode_trampoline(Abi abi, uint64_t target);
std::vector<uint8_t> encode_mark_v3(uint64_t orig_vdso, uint64_t orig_vvar, uint64_t rt_vvar);

// The seven names CRIU's x86 proxy patches (docs/vdso-restore.md §4.5), in CRIU's index order.
const std::vector<std::string>& criu_proxy_symbols();

}  // namespace vk::vdso
