// `check` on 1,000 image sets (copies of a real fixture made here), each with a 16 GiB sparse pages
// file, against the running kernel: prints sets per second, and the same for real-size pages files
// to show the cost does not grow with the pages file. Then times `matrix` over the full catalog.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <unistd.h>

#include "analyzers/check.h"
#include "analyzers/matrix.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace vk;

namespace {

double sets_per_second(const std::vector<fs::path>& dirs, const catalog::Catalog& cat) {
  const auto* r = analyze::find_restorer("criu-4.2");
  auto t0 = Clock::now();
  analyze::Checker checker(cat, "host", *r);   // one catalog index per run, as `vdsokit check` does
  for (const auto& d : dirs) {
    auto set = criu::ImageSet::open(*open_directory(d.string()));
    auto c = set ? checker.check(*set, d.string()) : Expected<analyze::SetCheck>(set.error());
    if (!c) {
      std::fprintf(stderr, "check failed: %s\n", c.error().str().c_str());
      std::exit(1);
    }
  }
  return double(dirs.size()) / std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::string fixture = argc > 1 ? argv[1] : VK_SAMPLE;
  const int n = argc > 2 ? std::atoi(argv[2]) : 1000;
  fs::path tmp = fs::temp_directory_path() / ("vk-check-bench-" + std::to_string(::getpid()));
  std::vector<fs::path> small, huge;
  for (int i = 0; i < n; ++i) {
    for (const char* kind : {"small", "huge"}) {
      fs::path d = tmp / kind / std::to_string(i);
      fs::create_directories(d);
      for (auto& e : fs::directory_iterator(fixture)) fs::copy_file(e.path(), d / e.path().filename());
      if (std::string(kind) == "huge") fs::resize_file(d / "pages-1.img", 16ull << 30);
      (std::string(kind) == "huge" ? huge : small).push_back(d);
    }
  }
  const auto& cat = catalog::Catalog::builtin();
  sets_per_second({small.begin(), small.begin() + std::min<long>(20, n)}, cat);   // warm caches
  double s = sets_per_second(small, cat);
  double h = sets_per_second(huge, cat);
  std::printf("check --target host, %d image sets, real pages files:   %.0f sets/s\n", n, s);
  std::printf("check --target host, %d image sets, 16 GiB pages files: %.0f sets/s\n", n, h);
  std::printf("ratio: %.2f (the pages file size must not matter)\n", s / h);
  fs::remove_all(tmp);

  auto t0 = Clock::now();
  auto ms = analyze::build_matrices(cat, {"x86_64", "i386", "x32"}, analyze::restorer_names());
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  if (!ms) return 1;
  size_t cells = 0;
  for (const auto& m : *ms) cells += m.ids.size() * m.ids.size();
  std::printf("matrix over %zu catalog entries, %zu restorers: %zu verdicts in %.1f ms (%.1f us each)\n", cat.entries().size(),
              analyze::restorer_names().size(), cells, secs * 1e3, secs * 1e6 / double(cells));
  return s / h < 2.0 ? 0 : 1;
}
