// The running kernel as a catalog entry (docs/catalog.md "host"). x86_64: the live vDSO at
// AT_SYSINFO_EHDR, sized by its /proc/self/maps line. i386/x32: a forked child unmaps its native
// vDSO and vvar and asks the kernel for the compat image with arch_prctl(ARCH_MAP_VDSO_32/X32) —
// the same trick CRIU's compat helper uses (docs/vdso-restore.md §4.1 item 3) — then sends its maps
// and the image bytes back through a pipe. The layout facts come from the maps lines.
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sstream>

#include "formats/catalog/catalog.h"
#include "formats/catalog/host.h"

#include "formats/procmaps/maps.h"

namespace vk::catalog {

namespace {
constexpr long kArchMapVdsoX32 = 0x2001;   // <asm/prctl.h> ARCH_MAP_VDSO_X32
constexpr long kArchMapVdso32 = 0x2002;    // ARCH_MAP_VDSO_32
}  // namespace

Expected<MapsLayout> layout_from_maps(const std::string& text, const std::string& name) {
  VK_TRY(lines, procmaps::parse(text, name));
  MapsLayout l;
  const procmaps::Line* vdso = nullptr;
  for (const auto& m : lines)
    if (m.name == "[vdso]") {
      if (vdso) return bad_input(name, "two [vdso] mappings");
      vdso = &m;
    }
  if (!vdso) return bad_input(name, "no [vdso] mapping");
  const auto* vvar = procmaps::find(lines, "[vvar]");
  const auto* vclock = procmaps::find(lines, "[vvar_vclock]");
  l.vdso_start = vdso->start, l.vdso_end = vdso->end;
  l.vdso_pages = (vdso->end - vdso->start) / 4096;
  l.vvar_pages = vvar ? (vvar->end - vvar->start) / 4096 : 0;
  l.vvar_vclock_pages = vclock ? (vclock->end - vclock->start) / 4096 : 0;
  // The data zones as one range ([vvar_vclock] directly follows [vvar], §4.1 item 1).
  uint64_t zs = vvar ? vvar->start : vclock ? vclock->start : 0, ze = vclock ? vclock->end : vvar ? vvar->end : 0;
  if (!vvar && !vclock) l.order = Order::SingleZone;
  else if (ze == l.vdso_start) l.order = Order::VvarBeforeVdso;
  else if (l.vdso_end == zs) l.order = Order::VdsoBeforeVvar;
  else return bad_input(name, "[vvar] does not touch [vdso]");
  return l;
}

namespace {

Expected<std::string> read_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) return bad_input(path, "cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string uname_release() {
  struct utsname u {};
  if (uname(&u) != 0) return "unknown";
  return u.release;
}

bool write_all(int fd, const void* p, size_t n) {
  auto* c = static_cast<const char*>(p);
  while (n) {
    ssize_t w = ::write(fd, c, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    c += w, n -= size_t(w);
  }
  return true;
}

// Runs in the forked child: no vDSO calls from here on (it is unmapped), only raw syscalls.
[[noreturn]] void compat_child(int fd, long code, const MapsLayout& native) {
  uint64_t lo = native.vdso_start, hi = native.vdso_end;
  // Drop the native vDSO and its data zones so the compat image can take their place.
  uint64_t data = (native.vvar_pages + native.vvar_vclock_pages) * 4096;
  if (native.order == Order::VvarBeforeVdso) lo -= data;
  else if (native.order == Order::VdsoBeforeVvar) hi += data;
  syscall(SYS_munmap, lo, hi - lo);
  long rc = syscall(SYS_arch_prctl, code, native.vdso_start);
  int32_t status = rc < 0 ? errno : 0;
  write_all(fd, &status, sizeof status);
  if (status) _exit(1);
  char buf[4096];
  std::string maps;
  int m = int(syscall(SYS_open, "/proc/self/maps", O_RDONLY));
  for (ssize_t n; m >= 0 && (n = ::read(m, buf, sizeof buf)) > 0;) maps.append(buf, size_t(n));
  uint64_t len = maps.size();
  write_all(fd, &len, sizeof len);
  write_all(fd, maps.data(), maps.size());
  auto l = layout_from_maps(maps, "/proc/self/maps");
  uint64_t vlen = l ? l->vdso_end - l->vdso_start : 0;
  write_all(fd, &vlen, sizeof vlen);
  if (vlen) write_all(fd, reinterpret_cast<const void*>(l->vdso_start), vlen);
  _exit(0);
}

bool read_all(int fd, void* p, size_t n) {
  auto* c = static_cast<char*>(p);
  while (n) {
    ssize_t r = ::read(fd, c, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    c += r, n -= size_t(r);
  }
  return true;
}

Expected<std::pair<std::string, std::vector<uint8_t>>> compat_image(vdso::Abi abi, const MapsLayout& native) {
  const char* what = abi == vdso::Abi::I386 ? "ARCH_MAP_VDSO_32" : "ARCH_MAP_VDSO_X32";
  int p[2];
  if (pipe(p) != 0) return bad_input("host", std::string("pipe: ") + std::strerror(errno));
  pid_t pid = fork();
  if (pid < 0) return bad_input("host", std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    close(p[0]);
    compat_child(p[1], abi == vdso::Abi::I386 ? kArchMapVdso32 : kArchMapVdsoX32, native);
  }
  close(p[1]);
  int32_t status = 0;
  uint64_t len = 0;
  std::string maps;
  std::vector<uint8_t> bytes;
  bool ok = read_all(p[0], &status, sizeof status);
  if (ok && !status) {
    ok = read_all(p[0], &len, sizeof len) && len < (1u << 24);
    if (ok) maps.resize(len), ok = read_all(p[0], maps.data(), len);
    if (ok) ok = read_all(p[0], &len, sizeof len) && len < (1u << 24);
    if (ok) bytes.resize(len), ok = read_all(p[0], bytes.data(), len);
  }
  close(p[0]);
  int ws = 0;
  waitpid(pid, &ws, 0);
  if (ok && status)
    return bad_input("host", std::string("arch_prctl(") + what + "): " + std::strerror(status) +
                                 (status == EINVAL || status == ENOSYS ? " (kernel without this compat ABI?)" : ""));
  if (!ok || bytes.empty()) return bad_input("host", std::string("the ") + what + " helper child failed");
  return std::make_pair(std::move(maps), std::move(bytes));
}

}  // namespace

Expected<HostVdso> host_capture(vdso::Abi abi) {
  VK_TRY(maps, read_text("/proc/self/maps"));
  VK_TRY(native, layout_from_maps(maps, "/proc/self/maps"));
  std::vector<uint8_t> pages;
  MapsLayout layout = native;
  if (abi == vdso::Abi::X86_64) {
    uint64_t ehdr = getauxval(AT_SYSINFO_EHDR);
    if (!ehdr) return bad_input("host", "no AT_SYSINFO_EHDR in the auxiliary vector");
    if (ehdr != native.vdso_start)
      return bad_input("/proc/self/maps", "AT_SYSINFO_EHDR " + hex(ehdr) + " is not the [vdso] start " +
                                              hex(native.vdso_start));
    auto* p = reinterpret_cast<const uint8_t*>(ehdr);
    pages.assign(p, p + (native.vdso_end - native.vdso_start));
  } else if (abi == vdso::Abi::I386 || abi == vdso::Abi::X32) {
    VK_TRY(img, compat_image(abi, native));
    VK_TRY(l, layout_from_maps(img.first, "compat helper /proc/self/maps"));
    layout = l;
    pages = std::move(img.second);
  } else {
    return usage_error("host: unknown ABI");
  }
  std::string release = uname_release();
  std::string name = std::string("host vDSO (") + vdso::abi_name(abi) + ")";
  VK_TRY(v, vdso::parse(name, pages));
  if (!v.elf || v.elf_size == 0 || v.elf_size > pages.size()) return bad_input(name, "not an ELF vDSO");
  if (v.abi != abi)
    return bad_input(name, std::string("the kernel gave a ") + vdso::abi_name(v.abi) + " image for " + vdso::abi_name(abi));
  std::vector<uint8_t> elf(pages.begin(), pages.begin() + long(v.elf_size));
  VK_TRY(e, entry_from_vdso(name, elf));
  e.id = std::string("host/") + vdso::abi_name(abi);
  e.release = release;
  e.flavour = "host";
  e.distribution = "host";
  e.file = "host-" + release + "-" + vdso::abi_name(abi) + ".so";
  if (e.version.empty()) {
    e.version_code = parse_version(release);
    e.version = version_string(e.version_code);
  }
  apply_version_rules(e, false);
  // Observed on this machine: the maps lines are facts, not rules.
  e.vdso_pages = layout.vdso_pages;
  e.vdso_pages_source = Source::Host;
  e.vvar_pages = {layout.vvar_pages, Source::Host};
  e.vvar_vclock_pages = {layout.vvar_vclock_pages, Source::Host};
  e.order = {layout.order, Source::Host};
  e.has_vvar_vclock = {layout.vvar_vclock_pages > 0, Source::Host};
  return HostVdso{std::move(e), std::move(elf)};
}

Expected<Entry> host_entry(vdso::Abi abi) {
  VK_TRY(h, host_capture(abi));
  return std::move(h.entry);
}

}  // namespace vk::catalog
