// Hostile inputs through the real binary (issue 12): exit codes instead of crashes, untrusted strings
// escaped in every output format, the set checks of `rewrite pagemap`, and peak memory under a limit.
// Inputs are copies of the real fixtures with the reproducer's mutation (synthetic, labelled so).
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "formats/criu/image.h"
#include "formats/criu/imageset.h"
#include "support/fixtures.h"

using namespace vk;
namespace fs = std::filesystem;

namespace {

const char* kSet = "host-vdsoloop/images";

// Rewrites entry 0 of `file` in `dir` through `edit` on its decoded message.
template <class Msg, class F>
void edit_message(const std::string& dir, const std::string& file, F edit) {
  auto bytes = test::read_bytes(dir + "/" + file);
  auto img = criu::parse_image(file, bytes);
  REQUIRE(img);
  Msg m;
  REQUIRE(criu::decode_entry(*img, 0, m));
  edit(m);
  criu::encode_entry(*img, 0, m);
  test::write_bytes(dir + "/" + file, criu::write_image(*img));
}

struct Limited {
  int code = -1;
  long maxrss_kib = 0;
};

// Runs vdsokit with RLIMIT_DATA (heap and private mappings, not the shared libraries' text) at
// `limit` bytes; an allocation beyond it fails (std::bad_alloc: exit 134), so the exit code shows that
// the run stayed under the limit; ru_maxrss gives the peak resident size for the report.
Limited run_limited(const std::vector<std::string>& args, uint64_t limit) {
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    struct rlimit rl{limit, limit};
    ::setrlimit(RLIMIT_DATA, &rl);
    int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    ::dup2(null, 2);
    std::vector<char*> argv{const_cast<char*>(VK_BINARY)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(VK_BINARY, argv.data());
    ::_exit(127);
  }
  int st = 0;
  struct rusage ru {};
  ::wait4(pid, &st, 0, &ru);
  Limited l;
  l.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  l.maxrss_kib = ru.ru_maxrss;
  return l;
}

}  // namespace

TEST_CASE("D1: inspect/identify of a vDSO with PT_DYNAMIC outside the image: exit 3 with offset, not 139 (synthetic)") {
  test::TempDir tmp;
  auto b = test::read_bytes(test::source("corpora/kernels/6.1.0-47-amd64/x86_64.so"));
  uint64_t phoff = b[32] | uint64_t(b[33]) << 8;
  for (int i = 0; i < b[56]; ++i) {
    uint64_t ph = phoff + uint64_t(i) * 56;
    if (b[ph] == 2) b[ph + 8 + 3] = 0x7f;   // PT_DYNAMIC p_offset += 0x7f000000
  }
  test::write_bytes(tmp / "dyn.so", b);
  auto r = test::run_vdsokit({"identify", tmp / "dyn.so"});
  CHECK(r.code == kExitBadInput);
  CHECK(r.err.find("dyn.so") != std::string::npos);
  CHECK(r.err.find("offset 0x") != std::string::npos);
}

TEST_CASE("D5/D17: a process name with 0xff and terminal escapes: JSON/YAML valid, text escaped (synthetic comm)") {
  test::TempDir tmp;
  test::copy_dir(test::fixture(kSet), tmp.path);
  std::string comm = std::string("vd\xff") + "\x1b]0;pwned\x07" + "\x1b[2J";
  edit_message<img::core_entry>(tmp.path, "core-7660.img", [&](img::core_entry& c) {
    c.mutable_tc()->set_comm(comm);
    if (c.has_thread_core()) c.mutable_thread_core()->set_comm(comm);
  });
  auto js = test::run_vdsokit({"inspect", "--format", "json", tmp.path});
  REQUIRE(js.code == 0);
  auto j = nlohmann::json::parse(js.out);   // throws on invalid UTF-8
  CHECK(j["image_sets"][0]["processes"][0]["comm"] == "vd\\xff\x1b]0;pwned\x07\x1b[2J");
  auto ym = test::run_vdsokit({"inspect", "--format", "yaml", tmp.path});
  CHECK(ym.code == 0);
  CHECK(ym.out.find('\xff') == std::string::npos);
  CHECK(ym.out.find('\x1b') == std::string::npos);
  for (const auto& args : std::vector<std::vector<std::string>>{{"inspect", tmp.path},
                                                                 {"check", tmp.path, "--target", "6.1.0-47-amd64"},
                                                                 {"check", tmp.path, "--target", "6.1.0-47-amd64", "--format", "json"},
                                                                 {"check", tmp.path, "--target", "6.1.0-47-amd64", "--format", "junit"}}) {
    auto t = test::run_vdsokit(args);
    CAPTURE(args.back());
    CHECK(t.code != 134);
    CHECK(t.code != 139);
    CHECK(t.out.find('\x1b') == std::string::npos);
    CHECK(t.out.find('\x07') == std::string::npos);
    CHECK(t.out.find('\xff') == std::string::npos);
  }
  auto text = test::run_vdsokit({"inspect", tmp.path});
  CHECK(text.out.find("vd\\xff\\x1b]0;pwned\\x07\\x1b[2J") != std::string::npos);
}

TEST_CASE("D12: a 1 GiB vDSO VMA: inspect exits 3 naming mm-7660.img and an offset (synthetic mutation)") {
  test::TempDir tmp;
  test::copy_dir(test::fixture(kSet), tmp.path);
  edit_message<img::mm_entry>(tmp.path, "mm-7660.img", [](img::mm_entry& mm) {
    for (auto& v : *mm.mutable_vmas())
      if ((v.status() & criu::kVmaVdso) && (v.status() & criu::kVmaRegular)) v.set_end(v.start() + (1ull << 30));
  });
  auto r = test::run_vdsokit({"inspect", tmp.path});
  CHECK(r.code == kExitBadInput);
  CHECK(r.err.find("mm-7660.img': offset 0x") != std::string::npos);
}

TEST_CASE("D16: rewrite pagemap refuses a set whose pagemap is missing, a directory, a symlink or a FIFO, or whose mm/core is malformed") {
  for (std::string how : {"missing", "directory", "symlink", "fifo", "mm", "core"}) {
    CAPTURE(how);
    test::TempDir tmp;
    test::copy_dir(test::fixture(kSet), tmp.path);
    std::string pm = tmp / "pagemap-7660.img";
    auto orig = test::read_bytes(pm);
    if (how != "mm" && how != "core") fs::remove(pm);
    if (how == "directory") fs::create_directory(pm);
    if (how == "symlink") {
      test::write_bytes(tmp / "elsewhere.img", orig);
      fs::create_symlink("elsewhere.img", pm);
    }
    if (how == "fifo") REQUIRE(::mkfifo(pm.c_str(), 0600) == 0);
    std::string bad = tmp / (how == "core" ? "core-7660.img" : "mm-7660.img");
    if (how == "mm" || how == "core") {
      auto b = test::read_bytes(bad);
      b.resize(b.size() - 7);   // truncated: the entry length runs past the end
      test::write_bytes(bad, b);
    }
    auto r = test::run_vdsokit({"rewrite", "pagemap", "--to", "4.1", tmp.path});
    CHECK(r.code == kExitBadInput);
    CHECK(r.out.find("rewritten") == std::string::npos);
    CHECK(r.out.find("unchanged") == std::string::npos);
    CHECK(r.err.find(how == "mm" ? "mm-7660.img" : how == "core" ? "core-7660.img" : "pagemap-7660.img") != std::string::npos);
    if (how == "mm" || how == "core") CHECK(test::read_bytes(pm) == orig);
    if (how == "symlink") CHECK(test::read_bytes(tmp / "elsewhere.img") == orig);
  }
}

TEST_CASE("peak memory: each hostile input stays under 256 MiB (RLIMIT_DATA) and exits 3 (synthetic inputs)") {
#ifdef VK_UNDER_ASAN
  MESSAGE("not measured under AddressSanitizer");
  return;
#endif
  const uint64_t kLimit = 256ull << 20;
  test::TempDir tmp;
  auto real_pm = test::read_bytes(test::fixture(std::string(kSet) + "/pagemap-7660.img"));
  auto pm_img = criu::parse_image("pagemap-7660.img", real_pm);
  REQUIRE(pm_img);
  struct Case {
    std::string name;
    std::vector<std::string> args;
  };
  std::vector<Case> cases;

  // D10: the largest image accepted, all zero-length entries (refused at the entry cap).
  {
    std::vector<uint8_t> z(criu::kMaxImageBytes, 0);
    std::copy(real_pm.begin(), real_pm.begin() + 8, z.begin());
    test::copy_dir(test::fixture(kSet), tmp / "zeros");
    test::write_bytes(tmp / "zeros/pagemap-7660.img", z);
    cases.push_back({"pagemap of zero-length entries", {"inspect", tmp / "zeros"}});
    cases.push_back({"decode of it", {"decode", tmp / "zeros/pagemap-7660.img"}});
    cases.push_back({"rewrite of it", {"rewrite", "pagemap", "--to", "4.1", tmp / "zeros"}});
  }
  // A pagemap of kMaxEntries - 1 valid runs after the real head and entries (the most one image may hold).
  {
    criu::Image img = *pm_img;
    const auto& last = img.entries.back().payload;
    img::pagemap_entry e;
    REQUIRE(e.ParseFromString(last));
    uint64_t va = e.vaddr() + (1ull << 32);
    while (img.entries.size() < criu::kMaxEntries) {
      e.set_vaddr(va);
      e.set_nr_pages(1);
      if (e.has_compat_nr_pages()) e.set_compat_nr_pages(0);
      e.set_flags(criu::kPeLazy);
      va += 2 * criu::kPageSize;
      criu::encode_entry(img, img.entries.size(), e);
    }
    test::copy_dir(test::fixture(kSet), tmp / "runs");
    test::write_bytes(tmp / "runs/pagemap-7660.img", criu::write_image(img));
    cases.push_back({"pagemap of 1 M runs: inspect", {"inspect", "--format", "json", tmp / "runs"}});
    cases.push_back({"pagemap of 1 M runs: decode", {"decode", tmp / "runs/pagemap-7660.img"}});
    cases.push_back({"pagemap of 1 M runs: rewrite", {"rewrite", "pagemap", "--to", "4.1", "--dry-run", tmp / "runs"}});
  }
  // D11: one pid listed 40 times.
  {
    test::copy_dir(test::fixture(kSet), tmp / "dup");
    auto ps = criu::parse_image("pstree.img", test::read_bytes(tmp / "dup/pstree.img"));
    REQUIRE(ps);
    for (int i = 0; i < 40; ++i) ps->entries.push_back(ps->entries[0]);
    test::write_bytes(tmp / "dup/pstree.img", criu::write_image(*ps));
    cases.push_back({"pstree listing one pid 40 times", {"inspect", tmp / "dup"}});
  }
  for (const auto& c : cases) {
    auto l = run_limited(c.args, kLimit);
    MESSAGE(c.name << ": exit " << l.code << ", peak RSS " << l.maxrss_kib / 1024 << " MiB");
    CAPTURE(c.name);
    CHECK((l.code == kExitOk || l.code == kExitBadInput));
    CHECK(l.maxrss_kib < long(kLimit / 1024));
  }
}
