#include "formats/vdso/stub.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "formats/vdso/vdso.h"

namespace vk::vdso {

namespace {

uint64_t le(const std::vector<uint8_t>& b, uint64_t off, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | b[off + i];
  return v;
}

void put(std::vector<uint8_t>& out, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) out.push_back(uint8_t(v >> (8 * i)));
}

// -ENOSYS, the answer to getrandom's state-size query: glibc then keeps using the system call.
constexpr uint32_t kMinusEnosys = uint32_t(-38);

// x86_64: the vDSO functions take their arguments in rdi, rsi, rdx like the system call, and rax,
// rcx, r11 (clobbered by `syscall`) are caller-saved, so `mov $nr,%eax; syscall; ret` is the same
// call (real-restores.md §3).
std::vector<uint8_t> stub64(uint32_t nr, bool guard) {
  std::vector<uint8_t> o;
  if (guard) {
    o.insert(o.end(), {0x49, 0x83, 0xf8, 0xff});               // cmp $-1,%r8   (opaque_len)
    o.insert(o.end(), {0x75, 0x08});                           // jne +8
    o.insert(o.end(), {0x48, 0xc7, 0xc0});                     // mov $-ENOSYS,%rax
    put(o, kMinusEnosys, 4);
    o.push_back(0xc3);                                         // ret
  }
  o.push_back(0xb8);                                           // mov $nr,%eax
  put(o, nr, 4);
  o.insert(o.end(), {0x0f, 0x05, 0xc3});                       // syscall; ret
  return o;
}

// i386 (cdecl): the arguments are on the stack; the system call wants them in ebx, ecx, edx.
// ebx is callee-saved, so it is pushed; after the push the first argument is at 8(%esp). Three
// arguments are loaded whatever the function takes: the extra stack words belong to the caller's
// frame and are only read. int $0x80 needs no vDSO (__kernel_vsyscall lives in the same old code).
std::vector<uint8_t> stub32(uint32_t nr, bool guard) {
  std::vector<uint8_t> o;
  if (guard) {
    o.insert(o.end(), {0x83, 0x7c, 0x24, 0x14, 0xff});         // cmpl $-1,0x14(%esp)  (opaque_len)
    o.insert(o.end(), {0x75, 0x06});                           // jne +6
    o.push_back(0xb8);                                         // mov $-ENOSYS,%eax
    put(o, kMinusEnosys, 4);
    o.push_back(0xc3);                                         // ret
  }
  o.push_back(0x53);                                           // push %ebx
  o.insert(o.end(), {0x8b, 0x5c, 0x24, 0x08});                 // mov 0x8(%esp),%ebx
  o.insert(o.end(), {0x8b, 0x4c, 0x24, 0x0c});                 // mov 0xc(%esp),%ecx
  o.insert(o.end(), {0x8b, 0x54, 0x24, 0x10});                 // mov 0x10(%esp),%edx
  o.push_back(0xb8);                                           // mov $nr,%eax
  put(o, nr, 4);
  o.insert(o.end(), {0xcd, 0x80, 0x5b, 0xc3});                 // int $0x80; pop %ebx; ret
  return o;
}

constexpr char kMarkMagic[8] = {'v', 'd', 's', 'o', 'k', 'i', 't', 'S'};
constexpr char kTrailer[4] = {'V', 'K', 'S', '1'};
constexpr uint32_t kHeader = 64, kMaxMark = 4096;

}  // namespace

std::optional<SyscallForm> syscall_form(Abi abi, const std::string& f) {
  // System call numbers: the kernel's arch/x86/entry/syscalls/syscall_64.tbl and syscall_32.tbl.
  struct Row {
    const char* name;
    uint32_t x86_64, i386;   // 0 = no such export on that ABI
    bool guard;
  };
  static const Row rows[] = {
      {"__vdso_clock_gettime", 228, 265, false},       // i386: the time32 variant
      {"__vdso_clock_gettime64", 0, 403, false},
      {"__vdso_clock_getres", 229, 266, false},        // i386: time32
      {"__vdso_clock_getres_time64", 0, 406, false},
      {"__vdso_gettimeofday", 96, 78, false},
      {"__vdso_time", 201, 13, false},
      {"__vdso_getcpu", 309, 318, false},
      {"__vdso_getrandom", 318, 355, true},
  };
  for (const auto& r : rows) {
    if (f != r.name) continue;
    uint32_t nr = abi == Abi::X86_64 ? r.x86_64 : abi == Abi::I386 ? r.i386 : 0;
    if (!nr) return std::nullopt;
    return SyscallForm{f, nr, r.guard};
  }
  return std::nullopt;
}

std::vector<uint8_t> encode_stub(Abi abi, const SyscallForm& f) {
  return abi == Abi::I386 ? stub32(f.nr, f.query_guard) : stub64(f.nr, f.query_guard);
}

bool endbr_at(const std::vector<uint8_t>& b, uint64_t off, Abi abi) {
  uint8_t last = abi == Abi::I386 ? 0xfb : 0xfa;
  return off + 4 <= b.size() && b[off] == 0xf3 && b[off + 1] == 0x0f && b[off + 2] == 0x1e && b[off + 3] == last;
}

std::optional<Stub> stub_at(const std::vector<uint8_t>& b, uint64_t off, Abi abi) {
  if (abi != Abi::X86_64 && abi != Abi::I386) return std::nullopt;
  uint64_t at = endbr_at(b, off, abi) ? off + 4 : off;
  for (bool guard : {false, true}) {
    // The number is the only variable part: read it where the template has it, re-encode, compare.
    uint64_t nr_at = abi == Abi::X86_64 ? (guard ? 15 : 1) : (guard ? 27 : 14);
    if (at + nr_at + 4 > b.size()) continue;
    uint32_t nr = uint32_t(le(b, at + nr_at, 4));
    auto want = encode_stub(abi, SyscallForm{"", nr, guard});
    if (at + want.size() <= b.size() && std::equal(want.begin(), want.end(), b.begin() + long(at)))
      return Stub{off, at, uint32_t(want.size()), nr, guard};
  }
  return std::nullopt;
}

std::vector<uint8_t> encode_stub_mark(const std::string& sha_hex, const std::string& restorer,
                                      const std::vector<MarkEntry>& entries) {
  std::vector<uint8_t> o(kMarkMagic, kMarkMagic + 8);
  put(o, kStubMarkVersion, 2);
  put(o, entries.size(), 2);
  put(o, 0, 4);   // total size, filled below
  for (size_t i = 0; i < 32; ++i) {
    unsigned v = 0;
    if (2 * i + 1 < sha_hex.size()) std::sscanf(sha_hex.c_str() + 2 * i, "%2x", &v);
    o.push_back(uint8_t(v));
  }
  for (size_t i = 0; i < 16; ++i) o.push_back(i < restorer.size() ? uint8_t(restorer[i]) : 0);
  for (const auto& e : entries) {
    put(o, e.at, 4);
    o.push_back(uint8_t(e.original.size()));
    o.insert(o.end(), {0, 0, 0});
    o.insert(o.end(), e.original.begin(), e.original.end());
    while (o.size() % 8) o.push_back(0);
  }
  uint32_t total = uint32_t(o.size() + 8);
  for (int i = 0; i < 4; ++i) o[12 + i] = uint8_t(total >> (8 * i));
  put(o, total, 4);
  o.insert(o.end(), kTrailer, kTrailer + 4);
  return o;
}

std::optional<StubMark> find_stub_mark(const std::vector<uint8_t>& b) {
  if (b.size() < kHeader + 8 || std::memcmp(b.data() + b.size() - 4, kTrailer, 4) != 0) return std::nullopt;
  uint32_t total = uint32_t(le(b, b.size() - 8, 4));
  if (total < kHeader + 8 || total > kMaxMark || total > b.size() || total % 8) return std::nullopt;
  uint64_t base = b.size() - total;
  if (std::memcmp(b.data() + base, kMarkMagic, 8) != 0 || le(b, base + 8, 2) != kStubMarkVersion ||
      le(b, base + 12, 4) != total)
    return std::nullopt;
  StubMark m;
  m.offset = base;
  m.size = total;
  static const char* hexd = "0123456789abcdef";
  for (int i = 0; i < 32; ++i) {
    m.original_sha256 += hexd[b[base + 16 + i] >> 4];
    m.original_sha256 += hexd[b[base + 16 + i] & 15];
  }
  for (int i = 0; i < 16 && b[base + 48 + i]; ++i) m.restorer += char(b[base + 48 + i]);
  uint64_t n = le(b, base + 10, 2), p = base + kHeader, end = b.size() - 8;
  for (uint64_t i = 0; i < n; ++i) {
    if (p + 8 > end) return std::nullopt;
    MarkEntry e;
    e.at = le(b, p, 4);
    uint64_t len = b[p + 4];
    if (p + 8 + len > end || e.at + len > base) return std::nullopt;   // originals lie before the mark
    e.original.assign(b.begin() + long(p + 8), b.begin() + long(p + 8 + len));
    m.entries.push_back(std::move(e));
    p += (8 + len + 7) / 8 * 8;
  }
  return m;
}

std::vector<uint8_t> without_stubs(const std::vector<uint8_t>& bytes, const StubMark& m) {
  std::vector<uint8_t> out = bytes;
  for (const auto& e : m.entries) std::copy(e.original.begin(), e.original.end(), out.begin() + long(e.at));
  std::fill(out.begin() + long(m.offset), out.begin() + long(m.offset + m.size), 0);
  return out;
}

}  // namespace vk::vdso
